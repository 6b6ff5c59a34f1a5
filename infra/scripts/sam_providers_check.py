#!/usr/bin/env python3
"""What SAM CLI's own template readers make of template.yaml, without Docker.

docs/deploy.md promises that `sam build` builds every function and that
`sam local invoke <Function> -e events/...` finds it, and warns that
`sam local start-api` can't load this template. Those are claims about SAM's
code, so this runs that code (the pinned aws-sam-cli in the venv, the same
calls the commands make before they build or start a container) and fails as
soon as a claim stops being true, in either direction: a WebSocket route that
SAM starts to understand fails this check too, so the warning gets revisited.

Expectations come from the template itself (every AWS::Serverless::Function,
every HttpApi event, every route of a WEBSOCKET API), so functions and routes
added later are covered without touching this file.

    python infra/scripts/sam_providers_check.py [template.yaml]
"""

import os
import sys
from types import SimpleNamespace

from aws_lambda_builders.workflow import BuildMode
from aws_lambda_builders.workflows.rust_cargo.actions import RustCargoLambdaBuildAction
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.build.app_builder import ApplicationBuilder
from samcli.lib.build.workflow_config import get_workflow_config
from samcli.lib.build.workflows import RUST_CARGO_LAMBDA_CONFIG
from samcli.lib.providers.api_collector import ApiCollector
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.cfn_api_provider import CfnApiProvider
from samcli.lib.providers.provider import Stack
from samcli.lib.providers.sam_api_provider import SamApiProvider
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.yamlhelper import yaml_parse

# Project decisions (docs/design.md), not SAM facts: every function is a cargo-lambda
# `bootstrap` on Amazon Linux 2023, Graviton.
RUNTIME = "provided.al2023"
ARCHITECTURE = "arm64"
HANDLER = "bootstrap"
BUILD_METHOD = "rust-cargolambda"

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
    return ok


def ref(value):
    """The logical id behind `!Ref X` (as yaml_parse leaves it), else None."""
    return value.get("Ref") if isinstance(value, dict) else None


def main():
    # SAM looks up AWS credentials to hand the container; never ask EC2 metadata.
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    template = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "template.yaml"))
    # SAM resolves CodeUri against the working directory, as the commands do.
    os.chdir(os.path.dirname(template))
    with open(template, encoding="utf-8") as f:
        raw = yaml_parse(f.read())["Resources"]

    def of_type(kind):
        return {k: v for k, v in raw.items() if v.get("Type") == kind}

    # What `sam build` and `sam local invoke` load the template with.
    stacks, _ = SamLocalStackProvider.get_stacks(template)

    functions_ok = check_functions(stacks, of_type("AWS::Serverless::Function"))
    http_ok = check_http_api(stacks, of_type("AWS::Serverless::Function"))
    http_paths = {
        (event.get("Properties") or {}).get("Path")
        for resource in of_type("AWS::Serverless::Function").values()
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values()
        if event.get("Type") == "HttpApi"
    }
    ws_ok = check_websocket_routes(
        stacks, of_type("AWS::ApiGatewayV2::Api"), of_type("AWS::ApiGatewayV2::Route"), http_paths
    )

    if failures:
        print("\nFAIL: SAM no longer reads template.yaml the way docs/deploy.md says:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"\nok  SAM providers: {functions_ok} functions, {http_ok} HTTP API routes, {ws_ok} WebSocket routes as documented")
    return 0


def check_functions(stacks, declared):
    """Every function resolves for `sam local invoke` and builds with cargo-lambda."""
    provider = SamFunctionProvider(stacks)
    found = {f.full_path for f in provider.get_all()}
    check(found == set(declared), f"SamFunctionProvider.get_all() lists {sorted(found)}, the template {sorted(declared)}")
    # `sam local invoke <id> --env-vars env.json` asks this for the function
    # (and its environment) before it needs Docker.
    env_json = {"Parameters": {"GROUPS_TABLE": "from-env-json", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}}
    runner = LocalLambdaRunner(local_runtime=None, function_provider=provider, cwd=os.getcwd(),
                               real_path=os.getcwd(), env_vars_values=env_json)
    print("sam local invoke / sam build (SamFunctionProvider, LocalLambdaRunner.get_function, cargo-lambda workflow):")
    ok = 0
    for logical_id in sorted(declared):
        try:
            function = runner.get_function(logical_id)
        except Exception as err:  # noqa: BLE001 - any refusal is the finding
            check(False, f"LocalLambdaRunner.get_function({logical_id!r}) failed: {type(err).__name__}: {err}")
            continue
        binary = ((function.metadata or {}).get("BuildProperties") or {}).get("Binary")
        facts = {
            "package type": (function.packagetype, "Zip"),
            "runtime": (function.runtime, RUNTIME),
            "handler": (function.handler, HANDLER),
            "architecture": (function.architecture, ARCHITECTURE),
            "Metadata.BuildMethod": ((function.metadata or {}).get("BuildMethod"), BUILD_METHOD),
        }
        good = all(check(got == want, f"{logical_id}: {what} is {got!r}, expected {want!r}") for what, (got, want) in facts.items())
        good &= check(bool(binary), f"{logical_id}: no Metadata.BuildProperties.Binary (sam build would not know which binary)")
        # docs/deploy.md: env.json sets only variables the template declares,
        # so `sam local invoke` can't be pointed at a local DynamoDB.
        env = runner._make_env_vars(function).resolve()
        good &= check(env.get("GROUPS_TABLE") == "from-env-json", f"{logical_id}: env.json no longer overrides GROUPS_TABLE")
        good &= check("AWS_ENDPOINT_URL_DYNAMODB" not in env,
                      f"{logical_id}: env.json now passes undeclared variables (AWS_ENDPOINT_URL_DYNAMODB)")
        if not good:
            continue

        # The workflow, options and command `sam build` derives for it.
        code_dir = os.path.abspath(function.codeuri)
        config = get_workflow_config(function.runtime, code_dir, os.getcwd(), specified_workflow=function.metadata["BuildMethod"])
        if not check(config == RUST_CARGO_LAMBDA_CONFIG, f"{logical_id}: sam build picks workflow {config}, not cargo-lambda"):
            continue
        options = ApplicationBuilder._get_build_options(
            logical_id, config.language, os.getcwd(), function.handler, config.dependency_manager, function.metadata, code_dir
        ) or {}
        executable = options.get("artifact_executable_name")
        if not check(executable == binary, f"{logical_id}: sam build would build {executable!r}, not {binary!r}"):
            continue
        command = RustCargoLambdaBuildAction(
            code_dir,
            {"cargo": SimpleNamespace(binary_path="cargo")},
            BuildMode.RELEASE,
            None,
            runtime=function.runtime,
            architecture=function.architecture,
            handler=executable,
        ).build_command()
        want = ["cargo", "lambda", "build", "--release", "--arm64", "--bin", binary]
        if check(command == want, f"{logical_id}: sam build would run {' '.join(command)}, expected {' '.join(want)}"):
            ok += 1
            print(f"  {logical_id:<20} {function.runtime} {function.architecture} {function.handler}  "
                  f"sam build: (cd {os.path.relpath(code_dir)} && {' '.join(command)})")
    return ok


def check_http_api(stacks, declared_functions):
    """SamApiProvider finds every HttpApi event as a route."""
    expected = set()
    for logical_id, resource in declared_functions.items():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                props = event.get("Properties") or {}
                expected.add((props["Method"].upper(), props["Path"], logical_id))
    collector = ApiCollector()
    SamApiProvider().extract_resources(stacks, collector, cwd=os.getcwd())
    found = {(method.upper(), route.path, route.function_name) for route in collector.get_api().routes for method in route.methods}
    # SAM answers CORS preflights itself: it adds OPTIONS to every path.
    found = {r for r in found if r[0] != "OPTIONS" or r in expected}
    check(found == expected, f"SamApiProvider finds HTTP routes {sorted(found)}, the template declares {sorted(expected)}")
    print("HTTP API (SamApiProvider.extract_resources):")
    for method, path, function in sorted(expected & found, key=lambda r: (r[1], r[0])):
        print(f"  {method:<6} {path:<16} -> {function}")
    return len(expected & found)


def check_websocket_routes(stacks, apis, routes, http_paths):
    """Every WebSocket route key defeats SAM's HTTP-only route parser; `start-api`
    serves the HTTP API alone."""
    websocket_apis = {k for k, v in apis.items() if (v.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"}
    ws_routes = {k: v for k, v in routes.items() if ref((v.get("Properties") or {}).get("ApiId")) in websocket_apis}
    stack = stacks[0]
    print("WebSocket routes (CfnApiProvider.extract_resources, one route at a time):")
    ok = 0
    for logical_id, resource in sorted(ws_routes.items()):
        key = resource["Properties"]["RouteKey"]
        # The template with this one route: CfnApiProvider runs
        # _extract_cfn_gateway_v2_route -> _parse_route_key on it.
        alone = {k: v for k, v in stack.template_dict["Resources"].items() if k == logical_id or k not in routes}
        single = Stack(stack.parent_stack_path, stack.name, stack.location, stack.parameters,
                       {**stack.template_dict, "Resources": alone})
        collector = ApiCollector()
        try:
            CfnApiProvider().extract_resources([single], collector, cwd=os.getcwd())
            got = [(sorted(r.methods), r.path, r.function_name) for r in collector.get_api().routes]
            outcome = f"read as HTTP route {got}"
        except ValueError as err:
            got, outcome = None, f"ValueError: {err}"
        # SAM 1.170's _parse_route_key: "$default" is an HTTP catch-all (ANY
        # $default); any other key without "METHOD path" cannot be unpacked.
        if key == "$default":
            want = check(got is not None and len(got) == 1 and got[0][1] == "$default",
                         f"{logical_id} ({key}): SAM no longer takes it for the HTTP catch-all ({outcome})")
        else:
            want = check(got is None, f"{logical_id} ({key}): SAM now parses this WebSocket route key ({outcome}); "
                                      "re-check what docs/deploy.md says about `sam local start-api`")
        ok += want
        print(f"  {key:<12} {logical_id:<16} {outcome}")

    # What `sam local start-api` builds (LocalApiService -> ApiProvider) from the
    # whole template: it picks one provider by the first API-type resource.
    chosen = type(ApiProvider.find_api_provider(stacks)).__name__
    try:
        served = ApiProvider(stacks, cwd=os.getcwd()).routes
        outcome = f"{len(served)} routes: " + ", ".join(f"{'/'.join(r.methods)} {r.path}" for r in served)
        # docs/deploy.md: start-api serves the HTTP API (every HttpApi event)
        # and none of the WebSocket API.
        paths = {r.path for r in served}
        check(chosen == "SamApiProvider" and paths == http_paths,
              f"sam local start-api serves {sorted(paths)} through {chosen}; docs/deploy.md says "
              f"it serves exactly the HTTP API {sorted(http_paths)}")
    except ValueError as err:
        outcome = f"ValueError: {err}"
        check(False, f"sam local start-api fails on the template ({outcome}); docs/deploy.md says it "
                     "serves the HTTP API")
    print(f"sam local start-api (ApiProvider -> {chosen}): {outcome}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
