#!/usr/bin/env python3
"""What SAM's own translator makes of template.yaml, for each AllowedOrigins.

CloudFormation deploys what samtranslator renders, not what template.yaml
says, and the two can differ: SAM takes an intrinsic function anywhere in an
HttpApi's CorsConfiguration as the whole configuration, so an !If on
AllowOrigins alone renders as a list and loses the methods and headers
(aws/serverless-application-model#1515). This runs the pinned translator (the
aws-sam-translator that the venv's aws-sam-cli requires) offline on the
template, resolves the conditions for each parameter value as CloudFormation
would, and checks the rendered stack:

  - the HTTP API's CORS is an object with origins (the parameter's, or "*"
    when it is empty), methods and headers;
  - every HTTP API route is public (no authorizer), and SAM CLI's own check
    finds each one's authentication declared, so `sam deploy --guided` asks
    no "has no authentication. Is this okay?" question;
  - every function logs to a log group of its own, with a retention;
  - the timer queue hides a received message at least as long as the timer
    function may run (Lambda refuses a shorter VisibilityTimeout).

    python infra/scripts/sam_translate_check.py [template.yaml]
"""

import copy
import logging
import os
import sys

from samcli.commands.deploy.auth_utils import auth_per_resource
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# AllowedOrigins values to render with, and the origins CORS must then allow.
ORIGINS = {
    "": ["*"],
    "https://your.origin": ["https://your.origin"],
    "https://a.example,https://b.example": ["https://a.example", "https://b.example"],
}

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
    return ok


class NoManagedPolicies:
    """The translator asks IAM for managed policy names only when a template
    names one; this template uses ARNs and inline statements."""

    def load(self):
        return {}


def condition(name, template, params):
    return truth(template.get("Conditions", {})[name], template, params)


def truth(value, template, params):
    """A condition's value, as CloudFormation evaluates it."""
    (fn, args), = value.items()
    if fn == "Fn::Not":
        return not truth(args[0], template, params)
    if fn == "Fn::And":
        return all(truth(a, template, params) for a in args)
    if fn == "Fn::Or":
        return any(truth(a, template, params) for a in args)
    if fn == "Fn::Equals":
        a, b = (resolve(x, template, params) for x in args)
        return a == b
    if fn == "Condition":
        return condition(args, template, params)
    raise ValueError(f"unsupported condition function {fn}")


def resolve(value, template, params):
    """Resolves the intrinsics CloudFormation would resolve from parameters
    alone (Fn::If, Ref to a parameter, Fn::Split of a string); leaves the
    others (Fn::Sub, Fn::GetAtt, Ref to a resource) as they are."""
    if isinstance(value, list):
        return [resolve(v, template, params) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (fn, args), = value.items()
        if fn == "Fn::If":
            name, yes, no = args
            return resolve(yes if condition(name, template, params) else no, template, params)
        if fn == "Ref" and args in params:
            return params[args]
        if fn == "Fn::Split":
            delimiter, text = resolve(args, template, params)
            if isinstance(text, str):
                return text.split(delimiter)
    return {k: resolve(v, template, params) for k, v in value.items()}


def render(source, allowed_origins):
    template = copy.deepcopy(source)
    # The translator wants S3 code locations, as after `sam package`.
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://bucket/functions.zip"
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.get("Properties", {}).pop("CodeUri", None)
    params = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    params["AllowedOrigins"] = allowed_origins
    rendered = transform(template, params, NoManagedPolicies())
    return rendered, params


def http_api(rendered):
    """The rendered HTTP API: the ApiGatewayV2 API with an OpenAPI body."""
    apis = [
        (k, r)
        for k, r in rendered["Resources"].items()
        if r["Type"] == "AWS::ApiGatewayV2::Api" and r.get("Properties", {}).get("ProtocolType") != "WEBSOCKET"
    ]
    check(len(apis) == 1, f"one rendered HTTP API, found {[k for k, _ in apis]}")
    return apis[0] if apis else (None, {})


def check_cors(rendered, params, expected_origins):
    label = f"AllowedOrigins={params['AllowedOrigins']!r}"
    api_id, api = http_api(rendered)
    props = api.get("Properties", {})
    # SAM writes HttpApi CORS into the OpenAPI body; a CorsConfiguration
    # property on the API would do the same.
    raw = props.get("CorsConfiguration", props.get("Body", {}).get("x-amazon-apigateway-cors"))
    if not check(raw is not None, f"{label}: {api_id} renders no CORS configuration"):
        return
    cors = resolve(raw, rendered, params)
    if not check(isinstance(cors, dict), f"{label}: {api_id} CORS renders as {type(cors).__name__}, not an object: {cors!r}"):
        return
    keys = {k.lower(): v for k, v in cors.items()}
    for key in ("alloworigins", "allowmethods", "allowheaders"):
        value = keys.get(key)
        check(
            isinstance(value, list) and value and all(isinstance(v, str) for v in value),
            f"{label}: {api_id} CORS {key} is {value!r}, not a list of strings",
        )
    check(
        keys.get("alloworigins") == expected_origins,
        f"{label}: CORS allows {keys.get('alloworigins')!r}, expected {expected_origins!r}",
    )


def check_routes_public(rendered, params):
    label = f"AllowedOrigins={params['AllowedOrigins']!r}"
    api_id, api = http_api(rendered)
    paths = api.get("Properties", {}).get("Body", {}).get("paths", {})
    check(paths, f"{label}: {api_id} has no routes")
    for path, methods in paths.items():
        for method, op in methods.items():
            security = op.get("security", [])
            # SAM's NONE: the route has no authorizer (it overrides the default).
            check(
                all(set(s) <= {"NONE"} for s in security),
                f"{label}: {method.upper()} {path} requires {security}; Circle's HTTP API is public",
            )


def check_log_groups(rendered):
    resources = rendered["Resources"]
    seen = {}
    for fid, f in resources.items():
        if f["Type"] != "AWS::Lambda::Function":
            continue
        group = (f["Properties"].get("LoggingConfig") or {}).get("LogGroup")
        target = group.get("Ref") if isinstance(group, dict) else None
        if not check(target in resources, f"{fid} logs to {group!r}, not a log group of this stack"):
            continue
        check(resources[target]["Type"] == "AWS::Logs::LogGroup", f"{fid}: {target} is no log group")
        check(
            isinstance(resources[target]["Properties"].get("RetentionInDays"), int),
            f"{target} keeps logs forever (no RetentionInDays)",
        )
        check(target not in seen, f"{fid} and {seen.get(target)} share {target}")
        seen[target] = fid
    check(seen, "no function renders with a log group")


def check_timer_visibility(rendered):
    resources = rendered["Resources"]
    for mid, m in resources.items():
        if m["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = m["Properties"]
        queue = (props.get("EventSourceArn") or {}).get("Fn::GetAtt", [None])[0]
        function = (props.get("FunctionName") or {}).get("Ref")
        if queue not in resources or function not in resources:
            continue
        visibility = resources[queue]["Properties"].get("VisibilityTimeout", 30)
        timeout = resources[function]["Properties"].get("Timeout", 3)
        check(
            visibility >= timeout,
            f"{queue} VisibilityTimeout {visibility} s is shorter than {function}'s Timeout {timeout} s (Lambda refuses it)",
        )


def check_guided_prompts(template_path):
    """SAM CLI's own test behind `sam deploy --guided`'s per-route question."""
    stacks, _ = SamLocalStackProvider.get_stacks(template_path)
    unauthenticated = [name for name, has_auth in auth_per_resource(stacks) if not has_auth]
    check(
        not unauthenticated,
        f"`sam deploy --guided` would ask {len(unauthenticated)} times whether no authentication "
        f"is okay ({sorted(set(unauthenticated))}); give each HttpApi event Auth: {{Authorizer: NONE}}",
    )


def main():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # The translator's usage metrics are never published here; don't warn so.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    path = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "template.yaml"))
    with open(path, encoding="utf-8") as f:
        source = yaml_parse(f.read())

    for allowed, expected in ORIGINS.items():
        rendered, params = render(source, allowed)
        check_cors(rendered, params, expected)
        check_routes_public(rendered, params)
        if allowed == "":
            check_log_groups(rendered)
            check_timer_visibility(rendered)
    os.chdir(os.path.dirname(path))
    check_guided_prompts(path)

    if failures:
        for message in failures:
            print(f"FAIL: {message}", file=sys.stderr)
        sys.exit(1)
    print(
        f"ok  samtranslator on {os.path.basename(path)}: HTTP API CORS is a whole object "
        f"(origins, methods, headers) for AllowedOrigins in {list(ORIGINS)}; every route public "
        "and declared so (no guided-deploy question); one log group per function; "
        "timer visibility covers the function's timeout"
    )


if __name__ == "__main__":
    main()
