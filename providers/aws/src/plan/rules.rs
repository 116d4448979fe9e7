//! Listener rules: the minimal set of deletes, modifies, priority moves and creates that turn
//! the observed rules into the desired ones, keeping priorities stable.
//!
//! Rules whose content is unchanged keep their priority (the longest run that is already in the
//! desired order). A changed rule that stays between the same neighbours is modified in place.
//! New rules take priorities in the gap between their neighbours; priorities are spread with
//! gaps so that an insertion never renumbers the listener. Only when a gap is full are the
//! listener's rules renumbered (one `SetRulePriorities` call).

use crate::native::Rule;
use crate::observed::ObservedRule;

/// ALB rule priorities are 1..=50,000.
pub const MAX_PRIORITY: i32 = 50_000;
/// The widest spacing used between new rules.
pub const SPACING: i32 = 100;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleChanges {
    pub delete: Vec<ObservedRule>,
    /// (existing rule ARN, new content).
    pub modify: Vec<(String, Rule)>,
    /// (existing rule ARN, new priority).
    pub reprioritize: Vec<(String, i32)>,
    /// (priority, content), in priority order.
    pub create: Vec<(i32, Rule)>,
}

/// One desired rule's place: an existing rule it keeps or modifies, or none.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Keep(usize),
    Modify(usize),
    New,
}

pub fn diff(desired: &[Rule], observed: &[ObservedRule]) -> RuleChanges {
    let kept = kept_in_order(desired, observed);
    let mut slots: Vec<Slot> = kept.iter().map(|k| k.map_or(Slot::New, Slot::Keep)).collect();
    let mut used: Vec<bool> = vec![false; observed.len()];
    for o in kept.iter().flatten() {
        used[*o] = true;
    }
    pair_modifications(&mut slots, &mut used, observed);
    let mut changes = RuleChanges { delete: observed.iter().zip(&used).filter(|(_, u)| !**u).map(|(o, _)| o.clone()).collect(), ..RuleChanges::default() };
    let priorities = match assign(&slots, observed) {
        Some(p) => p,
        None => renumber(&slots, observed, &mut changes),
    };
    for ((slot, rule), priority) in slots.iter().zip(desired).zip(priorities) {
        match slot {
            Slot::Keep(_) => {}
            Slot::Modify(o) => changes.modify.push((observed[*o].arn.clone(), rule.clone())),
            Slot::New => changes.create.push((priority, rule.clone())),
        }
    }
    changes
}

/// For each desired rule, the observed rule with the same content that it keeps, chosen so the
/// kept rules' priorities increase in desired order (a longest increasing subsequence).
fn kept_in_order(desired: &[Rule], observed: &[ObservedRule]) -> Vec<Option<usize>> {
    let mut taken = vec![false; observed.len()];
    let candidates: Vec<Option<usize>> = desired
        .iter()
        .map(|d| {
            let found = observed.iter().enumerate().position(|(i, o)| !taken[i] && o.rule.same_on_aws(d));
            if let Some(i) = found {
                taken[i] = true;
            }
            found
        })
        .collect();
    // Longest increasing subsequence of observed indices (observed is sorted by priority).
    let present: Vec<(usize, usize)> = candidates.iter().enumerate().filter_map(|(d, o)| o.map(|o| (d, o))).collect();
    let mut tails: Vec<usize> = Vec::new();
    let mut parent: Vec<Option<usize>> = vec![None; present.len()];
    for (i, &(_, o)) in present.iter().enumerate() {
        let at = tails.partition_point(|&t| present[t].1 < o);
        parent[i] = at.checked_sub(1).map(|p| tails[p]);
        if at == tails.len() {
            tails.push(i);
        } else {
            tails[at] = i;
        }
    }
    let mut out = vec![None; desired.len()];
    let mut cursor = tails.last().copied();
    while let Some(i) = cursor {
        out[present[i].0] = Some(present[i].1);
        cursor = parent[i];
    }
    out
}

/// Between two kept rules, pair new desired rules with leftover observed rules in the same gap,
/// in order: those are modified in place (one call each instead of a delete and a create).
fn pair_modifications(slots: &mut [Slot], used: &mut [bool], observed: &[ObservedRule]) {
    let mut start = 0;
    let mut low_observed = 0;
    while start < slots.len() {
        let end = slots[start..].iter().position(|s| matches!(s, Slot::Keep(_))).map_or(slots.len(), |p| start + p);
        let high_observed = match slots.get(end) {
            Some(Slot::Keep(o)) => *o,
            _ => observed.len(),
        };
        let free: Vec<usize> = (low_observed..high_observed).filter(|o| !used[*o]).collect();
        for (slot, o) in slots[start..end].iter_mut().zip(free) {
            *slot = Slot::Modify(o);
            used[o] = true;
        }
        if let Some(Slot::Keep(o)) = slots.get(end) {
            low_observed = o + 1;
        }
        start = end + 1;
    }
}

/// Priorities for every slot without moving any existing rule, or `None` when a gap is too
/// small for the new rules it must hold.
fn assign(slots: &[Slot], observed: &[ObservedRule]) -> Option<Vec<i32>> {
    let fixed = |s: &Slot| match s {
        Slot::Keep(o) | Slot::Modify(o) => Some(observed[*o].priority),
        Slot::New => None,
    };
    let mut out = vec![0; slots.len()];
    let mut i = 0;
    let mut low = 0;
    while i < slots.len() {
        if let Some(p) = fixed(&slots[i]) {
            out[i] = p;
            low = p;
            i += 1;
            continue;
        }
        let run_end = slots[i..].iter().position(|s| fixed(s).is_some()).map_or(slots.len(), |p| i + p);
        let high = slots.get(run_end).and_then(fixed).unwrap_or(MAX_PRIORITY + 1);
        let count = (run_end - i) as i32;
        let room = high - low - 1;
        if room < count {
            return None;
        }
        let step = if run_end == slots.len() { SPACING.min((high - low) / (count + 1)).max(1) } else { ((high - low) / (count + 1)).max(1) };
        for (k, slot) in out[i..run_end].iter_mut().enumerate() {
            *slot = low + step * (k as i32 + 1);
        }
        i = run_end;
    }
    Some(out)
}

/// Evenly spaced priorities for a listener of `count` rules.
pub fn spread(count: usize) -> Vec<i32> {
    let step = (MAX_PRIORITY / (count as i32 + 1)).clamp(1, SPACING);
    (1..=count as i32).map(|k| k * step).collect()
}

/// Renumber the whole listener; existing rules that move go into `reprioritize`.
fn renumber(slots: &[Slot], observed: &[ObservedRule], changes: &mut RuleChanges) -> Vec<i32> {
    let priorities = spread(slots.len());
    for (slot, priority) in slots.iter().zip(&priorities) {
        if let Slot::Keep(o) | Slot::Modify(o) = slot
            && observed[*o].priority != *priority
        {
            changes.reprioritize.push((observed[*o].arn.clone(), *priority));
        }
    }
    priorities
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::{Action, Condition};

    fn rule(path: &str) -> Rule {
        Rule {
            conditions: vec![Condition::Path { values: vec![path.into()], regex: vec![] }],
            action: Action::fixed(404, "x"),
            transforms: vec![],
            routes: vec![],
        }
    }

    fn observed(rules: &[(&str, i32)]) -> Vec<ObservedRule> {
        rules.iter().map(|(p, prio)| ObservedRule { arn: format!("arn:{p}"), priority: *prio, rule: rule(p) }).collect()
    }

    #[test]
    fn from_empty_rules_are_spread_with_gaps() {
        let changes = diff(&[rule("/a"), rule("/b"), rule("/c")], &[]);
        assert_eq!(changes.create.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![100, 200, 300]);
    }

    #[test]
    fn no_change_is_empty() {
        let changes = diff(&[rule("/a"), rule("/b")], &observed(&[("/a", 100), ("/b", 200)]));
        assert_eq!(changes, RuleChanges::default());
    }

    #[test]
    fn insertion_takes_the_gap_and_moves_nothing() {
        let changes = diff(&[rule("/a"), rule("/new"), rule("/b")], &observed(&[("/a", 100), ("/b", 200)]));
        assert_eq!(changes.create, vec![(150, rule("/new"))]);
        assert!(changes.delete.is_empty() && changes.modify.is_empty() && changes.reprioritize.is_empty());
    }

    #[test]
    fn an_edit_in_place_is_one_modify() {
        let changes = diff(&[rule("/a"), rule("/b2"), rule("/c")], &observed(&[("/a", 100), ("/b", 200), ("/c", 300)]));
        assert_eq!(changes.modify, vec![("arn:/b".to_string(), rule("/b2"))]);
        assert!(changes.create.is_empty() && changes.delete.is_empty());
    }

    #[test]
    fn a_full_gap_renumbers_once() {
        let changes = diff(&[rule("/a"), rule("/new"), rule("/b")], &observed(&[("/a", 1), ("/b", 2)]));
        assert_eq!(changes.create, vec![(200, rule("/new"))]);
        assert_eq!(changes.reprioritize, vec![("arn:/a".to_string(), 100), ("arn:/b".to_string(), 300)]);
    }

    #[test]
    fn reordering_keeps_the_longest_ordered_run() {
        let changes = diff(&[rule("/b"), rule("/c"), rule("/a")], &observed(&[("/a", 100), ("/b", 200), ("/c", 300)]));
        assert_eq!(changes.delete.len(), 1);
        assert_eq!(changes.delete[0].arn, "arn:/a");
        assert_eq!(changes.create, vec![(400, rule("/a"))]);
    }
}
