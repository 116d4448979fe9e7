"""Lint and render the chart with Helm's own library (PyPI helm-python-sdk, no helm binary).

    python render.py CHART_DIR VALUES_JSON [RELEASE NAMESPACE]

Prints one JSON document: {"lint": {...}, "manifests": {"templates/x.yaml": "...", ...}} when the
values render, or {"lint": {...}, "error": "..."} when Helm refuses them (schema, required values,
template failures). The chart's tests (operator/cli/tests/chart/) call it; it exits 0 either way.
"""

import json
import sys

import helm_python as helm


def main() -> None:
    chart_dir, values = sys.argv[1], json.loads(sys.argv[2])
    release = sys.argv[3] if len(sys.argv) > 3 else "portico"
    namespace = sys.argv[4] if len(sys.argv) > 4 else "portico-system"
    out = {"lint": helm.lint(chart_dir, values, strict=True, namespace=namespace)}
    try:
        chart = helm.Chart.load(chart_dir)
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
        out["manifests"] = {path.split("/", 1)[1]: text for path, text in rendered.items()}
        out["crds"] = {crd["name"]: crd["data"] for crd in chart.crds}
    except helm.HelmError as error:
        out["error"] = str(error)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
