//! Native model <-> ELBv2 SDK types. Reading back must give exactly what was written, so that an
//! unchanged Gateway plans no change.

use aws_sdk_elasticloadbalancingv2::types as elb;

use crate::native::{Action, Condition, Rule, Transform};

pub fn condition(c: &Condition) -> elb::RuleCondition {
    let builder = elb::RuleCondition::builder();
    match c {
        Condition::Host { values } => {
            builder.field("host-header").host_header_config(elb::HostHeaderConditionConfig::builder().set_values(Some(values.clone())).build())
        }
        Condition::Path { values, regex } => {
            let mut config = elb::PathPatternConditionConfig::builder();
            if !values.is_empty() {
                config = config.set_values(Some(values.clone()));
            }
            if !regex.is_empty() {
                config = config.set_regex_values(Some(regex.clone()));
            }
            builder.field("path-pattern").path_pattern_config(config.build())
        }
        Condition::Header { name, values, regex } => {
            let mut config = elb::HttpHeaderConditionConfig::builder().http_header_name(name);
            if !values.is_empty() {
                config = config.set_values(Some(values.clone()));
            }
            if !regex.is_empty() {
                config = config.set_regex_values(Some(regex.clone()));
            }
            builder.field("http-header").http_header_config(config.build())
        }
        Condition::Method { values } => builder
            .field("http-request-method")
            .http_request_method_config(elb::HttpRequestMethodConditionConfig::builder().set_values(Some(values.clone())).build()),
        Condition::Query { pairs } => {
            let pairs = pairs.iter().map(|(k, v)| elb::QueryStringKeyValuePair::builder().key(k).value(v).build()).collect();
            builder.field("query-string").query_string_config(elb::QueryStringConditionConfig::builder().set_values(Some(pairs)).build())
        }
    }
    .build()
}

pub fn condition_from(c: &elb::RuleCondition) -> Option<Condition> {
    let plain = || c.values().to_vec();
    Some(match c.field()? {
        "host-header" => Condition::Host { values: c.host_header_config().map_or_else(plain, |h| h.values().to_vec()) },
        "path-pattern" => match c.path_pattern_config() {
            Some(p) => Condition::Path { values: p.values().to_vec(), regex: p.regex_values().to_vec() },
            None => Condition::Path { values: plain(), regex: vec![] },
        },
        "http-header" => {
            let h = c.http_header_config()?;
            Condition::Header { name: h.http_header_name()?.to_string(), values: h.values().to_vec(), regex: h.regex_values().to_vec() }
        }
        "http-request-method" => Condition::Method { values: c.http_request_method_config()?.values().to_vec() },
        "query-string" => {
            let pairs = c
                .query_string_config()?
                .values()
                .iter()
                .map(|p| (p.key().unwrap_or_default().to_string(), p.value().unwrap_or_default().to_string()))
                .collect();
            Condition::Query { pairs }
        }
        _ => return None,
    })
}

/// `arn_of` resolves a target group name to its ARN.
pub fn action(a: &Action, arn_of: &dyn Fn(&str) -> Option<String>) -> Result<elb::Action, String> {
    let builder = elb::Action::builder().order(1);
    Ok(match a {
        Action::Forward { target_groups } => {
            let mut tuples = Vec::new();
            for (name, weight) in target_groups {
                let arn = arn_of(name).ok_or_else(|| format!("target group {name} does not exist"))?;
                tuples.push(elb::TargetGroupTuple::builder().target_group_arn(arn).weight(*weight).build());
            }
            builder.r#type(elb::ActionTypeEnum::Forward).forward_config(elb::ForwardActionConfig::builder().set_target_groups(Some(tuples)).build())
        }
        Action::Redirect { protocol, host, port, path, query, status_code } => {
            let config = elb::RedirectActionConfig::builder()
                .protocol(protocol)
                .host(host)
                .port(port)
                .path(path)
                .query(query)
                .status_code(elb::RedirectActionStatusCodeEnum::from(status_code.as_str()))
                .build();
            builder.r#type(elb::ActionTypeEnum::Redirect).redirect_config(config)
        }
        Action::FixedResponse { status_code, content_type, message_body } => {
            let config = elb::FixedResponseActionConfig::builder().status_code(status_code).content_type(content_type).message_body(message_body).build();
            builder.r#type(elb::ActionTypeEnum::FixedResponse).fixed_response_config(config)
        }
    }
    .build())
}

/// `name_of` resolves a target group ARN to its name (unknown groups keep their ARN).
pub fn action_from(a: &elb::Action, name_of: &dyn Fn(&str) -> String) -> Option<Action> {
    match a.r#type()? {
        elb::ActionTypeEnum::Forward => {
            let tuples = a.forward_config().map(|f| f.target_groups()).unwrap_or_default();
            let mut target_groups: Vec<(String, i32)> = tuples.iter().filter_map(|t| Some((name_of(t.target_group_arn()?), t.weight().unwrap_or(1)))).collect();
            if target_groups.is_empty() {
                target_groups.push((name_of(a.target_group_arn()?), 1));
            }
            target_groups.sort();
            Some(Action::Forward { target_groups })
        }
        elb::ActionTypeEnum::Redirect => {
            let r = a.redirect_config()?;
            let text = |v: Option<&str>, default: &str| v.unwrap_or(default).to_string();
            Some(Action::Redirect {
                protocol: text(r.protocol(), "#{protocol}"),
                host: text(r.host(), "#{host}"),
                port: text(r.port(), "#{port}"),
                path: text(r.path(), "/#{path}"),
                query: text(r.query(), "#{query}"),
                status_code: r.status_code()?.as_str().to_string(),
            })
        }
        elb::ActionTypeEnum::FixedResponse => {
            let f = a.fixed_response_config()?;
            Some(Action::FixedResponse {
                status_code: f.status_code()?.to_string(),
                content_type: f.content_type().unwrap_or("text/plain").to_string(),
                message_body: f.message_body().unwrap_or_default().to_string(),
            })
        }
        _ => None,
    }
}

pub fn transform(t: &Transform) -> elb::RuleTransform {
    let rewrite = |regex: &str, replace: &str| elb::RewriteConfig::builder().regex(regex).replace(replace).build();
    match t {
        Transform::HostHeaderRewrite { regex, replace } => elb::RuleTransform::builder()
            .r#type(elb::TransformTypeEnum::HostHeaderRewrite)
            .host_header_rewrite_config(elb::HostHeaderRewriteConfig::builder().rewrites(rewrite(regex, replace)).build()),
        Transform::UrlRewrite { regex, replace } => elb::RuleTransform::builder()
            .r#type(elb::TransformTypeEnum::UrlRewrite)
            .url_rewrite_config(elb::UrlRewriteConfig::builder().rewrites(rewrite(regex, replace)).build()),
    }
    .build()
}

pub fn transform_from(t: &elb::RuleTransform) -> Option<Transform> {
    let first =
        |rewrites: &[elb::RewriteConfig]| rewrites.first().map(|r| (r.regex().unwrap_or_default().to_string(), r.replace().unwrap_or_default().to_string()));
    match t.r#type()? {
        elb::TransformTypeEnum::HostHeaderRewrite => {
            first(t.host_header_rewrite_config()?.rewrites()).map(|(regex, replace)| Transform::HostHeaderRewrite { regex, replace })
        }
        elb::TransformTypeEnum::UrlRewrite => first(t.url_rewrite_config()?.rewrites()).map(|(regex, replace)| Transform::UrlRewrite { regex, replace }),
        _ => None,
    }
}

/// A rule read back from AWS (the first action is the one Portico writes).
pub fn rule_from(r: &elb::Rule, name_of: &dyn Fn(&str) -> String) -> Option<Rule> {
    let mut conditions: Vec<Condition> = r.conditions().iter().filter_map(condition_from).collect();
    conditions.sort();
    let action = action_from(r.actions().first()?, name_of)?;
    let transforms = r.transforms().iter().filter_map(transform_from).collect();
    Some(Rule { conditions, action, transforms, routes: Vec::new() })
}
