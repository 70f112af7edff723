"""The Go text/template subset behind ``topology info --template``."""

from __future__ import annotations

from typing import Any

import pytest

from brickyard.cli.gofmt import sprint, sprintf
from brickyard.cli.gotemplate import TemplateError, render, render_topology
from brickyard.cli.gotypes import F32


@pytest.mark.parametrize(
    ("template", "data", "expected"),
    [
        ("a {{.}} b", "x", "a x b"),
        ("a  {{- .}} -}}  b", 1, "a1 -}}  b"),
        ("a  {{- . -}}  b", 1, "a1b"),
        ("{{/* comment */}}x", None, "x"),
        ("{{if .}}yes{{else}}no{{end}}", [], "no"),
        ("{{if eq . 1 2}}one-or-two{{end}}", 2, "one-or-two"),
        ("{{if not .}}empty{{else if eq . 3}}three{{else}}other{{end}}", 3, "three"),
        ("{{range $i, $v := .}}{{$i}}={{$v}};{{end}}", ["a", "b"], "0=a;1=b;"),
        ("{{range .}}{{.}}{{else}}none{{end}}", [], "none"),
        ("{{range $k, $v := .}}{{$k}}:{{$v}} {{end}}", {"b": "2", "a": "1"}, "a:1 b:2 "),
        ("{{range .}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", [1, 2, 3], "1"),
        ("{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", [1, 2, 3], "13"),
        ("{{with .}}[{{.}}]{{else}}nothing{{end}}", "", "nothing"),
        ("{{$x := 5}}{{$x}}{{$x = 6}}{{$x}}", None, "56"),
        (
            '{{printf "%-5v|%5v|%.2f|%d|%q|%t|%x" "ab" "cd" 1.5 42 "q" true 255}}',
            None,
            'ab   |   cd|1.50|42|"q"|true|ff',
        ),
        ("{{len .}} {{index . 1}}", ["a", "b"], "2 b"),
        ('{{join . ", "}}', ["a", "b"], "a, b"),
        ("{{kibToGib .}}", 3 * 1024 * 1024 + 5, "3"),
        ('{{entryStateString "failed"}} {{"online" | entryStateString}}', None, "removed online"),
        ('{{and 1 0}} {{or 0 "" 7}} {{and 1 2}}', None, "0 7 2"),
        ("{{(index . 0).x}}", [{"x": "y"}], "y"),
        ("{{.missing}}", {"a": "b"}, ""),
        ('{{print 1 2 "a" 3}}', None, "1 2a3"),
        ("{{lt 1 2}} {{ge 1 2}}", None, "true false"),
        ("{{.}}", [1, [2, 3]], "[1 [2 3]]"),
        ("{{.}}", {"k": "v"}, "map[k:v]"),
    ],
)
def test_render(template: str, data: Any, expected: str) -> None:
    assert render(template, data) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{nosuch}}", 'function "nosuch" not defined'),
        ("{{if .}}x", "unexpected EOF"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{.ClusterList.Nope}}", "can't evaluate field Nope"),
        (
            "{{range .ClusterList}}{{.Bogus}}{{end}}",
            "can't evaluate field Bogus in type api.Cluster",
        ),
        ("{{$undefined}}", 'undefined variable "$undefined"'),
        ('{{template "x"}}', "not supported"),
        ("{{ . ", "unclosed action"),
    ],
)
def test_errors(template: str, message: str) -> None:
    topology = {"clusters": [{"id": "c"}]}
    with pytest.raises(TemplateError, match=message.replace("{", "\\{").replace("$", "\\$")):
        render_topology(template, topology)


def test_go_field_names_zero_values_and_promotion() -> None:
    topology = {"clusters": [{"id": "c", "nodes": [{"id": "n", "devices": [{"name": "/dev/x"}]}]}]}
    template = (
        "{{range .ClusterList}}{{.Id}} {{.Block}} {{.ClusterFlags.File}} {{len .Volumes}}"
        '{{range .Nodes}} {{.Id}} {{.Zone}} {{.NodeInfo.NodeAddRequest.ClusterId | printf "%q"}}'
        "{{range .DevicesInfo}} {{.Name}} {{.Storage.Total}} {{.Tags}} {{.Paths}}{{end}}"
        "{{end}}{{end}}"
    )
    assert render_topology(template, topology) == 'c false false 0 n 0 "" /dev/x 0 map[] []'


def test_float32_formatting() -> None:
    assert sprint(F32(1.5), F32(0.1), 2.0) == "1.5 0.1 2"
    assert sprintf("%v %.2f %g", F32(1.1), F32(1.125), 1e-7) == "1.1 1.12 1e-07"
    assert sprintf("%d %s") == "%!d(MISSING) %!s(MISSING)"
    assert sprintf("%d", "x") == "%!d(string=x)"
    assert sprintf("x", 1) == "x%!(EXTRA int=1)"
