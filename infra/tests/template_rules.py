"""Our own rules for infra/template.yaml: what cfn-lint and `sam validate --lint` do not check.

`findings(template, template_dir)` returns a list of human-readable problems (empty = clean). It checks:
- every function: runtime `provided.al2023`, arm64, `bootstrap`, built by cargo-lambda from a crate that exists
  and names the binary;
- every event: its type is one we use, its properties (and the nested ones we use) are known names;
- every `Ref` / `Fn::GetAtt` / `Fn::Sub` / `Fn::If` condition points at something declared (cfn-lint misses
  dangling references in `Globals`), with a known attribute for `GetAtt`;
- the stream triggers: INSERT-only filters on the right `kind`s, bisect on error, bounded retries and record age,
  an SQS on-failure destination; the schedule: retry policy and dead-letter queue;
- least privilege: each function's role grants exactly EXPECTED_GRANTS (action, resource) pairs, no wildcards,
  no managed policies, no SAM policy templates;
- the app secret only by reference (no password parameter or env value); log groups with retention; alarms on
  every function's errors and every queue's depth; the table's fixed shape; the messaging endpoint output;
- operations (issue #17, docs/decisions/2026-11-30-operations-infra.md): every alarm notifies the stack's own SNS
  topic on ALARM and OK (plus the optional AlarmTopicArn), the optional email subscription; alarms on throttles,
  duration near the timeout, stream iterator age, the endpoint's 5xx and the runtime's EMF metrics
  (EXPECTED_RUNTIME_ALARMS); X-Ray tracing, JSON logs with Lambda's level filters, the `live` alias with a gradual
  deployment rolled back by the new version's Errors alarm; the table's deletion protection, the secret and the
  failed-records bucket retained; HTTP API access logs; the optional function URL; the failed-records bucket that
  outlives the on-failure queues, named to the stream functions in FAILED_RECORDS_BUCKET / FAILED_RECORDS_PREFIX.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from samtranslator.internal.schema_source import aws_serverless_function as sam_fn

PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::NotificationARNs",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}

# GetAtt attributes per resource type we use (CloudFormation return values; SAM function/API as documented).
GETATT_ATTRIBUTES = {
    "AWS::DynamoDB::Table": {"Arn", "StreamArn"},
    "AWS::SQS::Queue": {"Arn", "QueueName", "QueueUrl"},
    "AWS::Logs::LogGroup": {"Arn"},
    "AWS::IAM::Role": {"Arn", "RoleId"},
    "AWS::Serverless::Function": {"Arn"},
    "AWS::SecretsManager::Secret": {"Id"},
    "AWS::Serverless::HttpApi": {"ApiEndpoint", "ApiId"},
    "AWS::CloudWatch::Alarm": {"Arn"},
    "AWS::SNS::Topic": {"TopicArn", "TopicName"},
    "AWS::S3::Bucket": {"Arn", "DomainName", "RegionalDomainName"},
    "AWS::Lambda::Url": {"FunctionArn", "FunctionUrl"},
}

# What SAM lets a template name on a function with AutoPublishAlias: `!Ref Fn.Alias` (the alias ARN),
# `!Ref Fn.Version` and `!GetAtt Fn.Version.Version` (the version SAM publishes).
SAM_FUNCTION_REFS = {"Alias", "Version"}
SAM_FUNCTION_GETATTS = {"Version.Version"}

RUNTIME = "provided.al2023"

# The event types we use, with SAM's own model of their properties (extra names are mistakes).
EVENT_MODELS = {
    "DynamoDB": sam_fn.DynamoDBEventProperties,
    "HttpApi": sam_fn.HttpApiEventProperties,
    "ScheduleV2": sam_fn.ScheduleV2EventProperties,
}


def _model_fields(model: Any) -> set[str]:
    fields = getattr(model, "model_fields", None) or getattr(model, "__fields__")
    return set(fields)


# Nested objects SAM passes through untyped: their known keys (CloudFormation's / SAM's documented names).
NESTED_KEYS = {
    ("DynamoDB", "DestinationConfig"): {"OnFailure"},
    ("DynamoDB", "DestinationConfig", "OnFailure"): {"Destination", "Type"},
    ("DynamoDB", "FilterCriteria"): {"Filters"},
    ("DynamoDB", "FilterCriteria", "Filters", "[]"): {"Pattern"},
    ("ScheduleV2", "RetryPolicy"): {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"},
    ("ScheduleV2", "DeadLetterConfig"): {"Arn", "Type", "QueueLogicalId"},
    ("ScheduleV2", "FlexibleTimeWindow"): {"Mode", "MaximumWindowInMinutes"},
}

# What each function's events must be: (type, what the event is for).
EXPECTED_EVENTS = {
    "MessagesFunction": {"HttpApi"},
    "WelcomeFunction": {"DynamoDB"},
    "ProactiveFunction": {"ScheduleV2", "DynamoDB"},
}

# The stream items each function handles (FilterCriteria on dynamodb.NewImage.kind.S, INSERTs only).
EXPECTED_STREAM_KINDS = {
    "WelcomeFunction": {"team-install", "first-contact"},
    "ProactiveFunction": {"outbox"},
}

TABLE_READ_WRITE = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "dynamodb:TransactWriteItems",
    "dynamodb:ConditionCheckItem",
}
STREAM_READ = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
# X-Ray's write actions have no resource-level permissions: the only grants allowed on "*".
XRAY_WRITE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _pairs(actions: set[str], resources: set[str]) -> set[tuple[str, str]]:
    return {(a, r) for a in actions for r in resources}


# Least privilege: exactly these (action, resource) pairs per function. Resources are symbolic:
# table / index:gsi1 / stream / table-streams (the table's stream/* for ListStreams) / log:<LogGroup> /
# queue:<Queue> / secret:<Secret> / objects:<Bucket>/<prefix>* / * (X-Ray only). Change this table when a
# function really needs more, in the same commit.
EXPECTED_GRANTS = {
    "MessagesFunction": _pairs({"logs:CreateLogStream", "logs:PutLogEvents"}, {"log:MessagesLogGroup"})
    | _pairs(XRAY_WRITE, {"*"})
    | _pairs(TABLE_READ_WRITE | {"dynamodb:DeleteItem"}, {"table", "index:gsi1"})
    | _pairs({"secretsmanager:GetSecretValue"}, {"secret:AppPasswordSecret"}),
    "WelcomeFunction": _pairs({"logs:CreateLogStream", "logs:PutLogEvents"}, {"log:WelcomeLogGroup"})
    | _pairs(XRAY_WRITE, {"*"})
    # DeleteItem: giving up an idempotency key whose send Teams refused (SentLog::release_idempotency).
    | _pairs(TABLE_READ_WRITE | {"dynamodb:DeleteItem"}, {"table", "index:gsi1"})
    | _pairs(STREAM_READ, {"stream"})
    | _pairs({"dynamodb:ListStreams"}, {"table-streams"})
    | _pairs({"sqs:SendMessage"}, {"queue:WelcomeFailureQueue"})
    # The full record of a stream item it gives up on (FAILED_RECORDS_BUCKET + FAILED_RECORDS_PREFIX).
    | _pairs({"s3:PutObject"}, {"objects:FailedRecordsBucket/welcome/*"})
    | _pairs({"secretsmanager:GetSecretValue"}, {"secret:AppPasswordSecret"}),
    "ProactiveFunction": _pairs({"logs:CreateLogStream", "logs:PutLogEvents"}, {"log:ProactiveLogGroup"})
    | _pairs(XRAY_WRITE, {"*"})
    | _pairs(TABLE_READ_WRITE | {"dynamodb:DeleteItem"}, {"table", "index:gsi1"})
    | _pairs(STREAM_READ, {"stream"})
    | _pairs({"dynamodb:ListStreams"}, {"table-streams"})
    | _pairs({"sqs:SendMessage"}, {"queue:OutboxFailureQueue"})
    | _pairs({"s3:PutObject"}, {"objects:FailedRecordsBucket/outbox/*"})
    | _pairs({"secretsmanager:GetSecretValue"}, {"secret:AppPasswordSecret"}),
}

TABLE_SHAPE = {
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": sorted(
        [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "gsi1pk", "AttributeType": "S"},
            {"AttributeName": "gsi1sk", "AttributeType": "S"},
        ],
        key=lambda d: d["AttributeName"],
    ),
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
    "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    "SSESpecification": {"SSEEnabled": True},
}

SECRET_ENV = "MICROSOFT_APP_PASSWORD_SECRET_ARN"


def load(path: Path) -> dict:
    """The template as plain data, short-form intrinsics (`!Ref`, `!GetAtt a.b`, ...) expanded."""
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


def _resources_of(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == type_}


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return copy.deepcopy(over)


def effective_function_properties(template: dict, name: str) -> dict:
    """A function's properties with `Globals.Function` applied (SAM merges maps, the function wins)."""
    glob = template.get("Globals", {}).get("Function", {})
    return _merge(copy.deepcopy(glob), template["Resources"][name].get("Properties", {}))


# ----------------------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------------------
def _walk(node: Any, path: str):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def _check_target(template: dict, target: str, attr: str | None, where: str, local: set[str]) -> list[str]:
    params = template.get("Parameters", {})
    resources = template.get("Resources", {})
    if attr is None:
        if target in params or target in resources or target in PSEUDO_PARAMETERS or target in local:
            return []
        fn, _, sam_ref = target.partition(".")
        if sam_ref in SAM_FUNCTION_REFS and _has_alias(template, fn):
            return []
        return [f"{where}: dangling reference to {target!r}"]
    if target not in resources:
        return [f"{where}: dangling GetAtt to {target}.{attr}"]
    type_ = resources[target].get("Type")
    if type_ == "AWS::Serverless::Function" and attr in SAM_FUNCTION_GETATTS:
        return [] if _has_alias(template, target) else [f"{where}: {target}.{attr} needs AutoPublishAlias on {target}"]
    known = GETATT_ATTRIBUTES.get(type_)
    if known is None:
        return [f"{where}: GetAtt on {target} of type {type_} (add its attributes to GETATT_ATTRIBUTES)"]
    if attr not in known:
        return [f"{where}: {type_} {target} has no attribute {attr!r}"]
    return []


def _has_alias(template: dict, fn: str) -> bool:
    res = template.get("Resources", {}).get(fn, {})
    return res.get("Type") == "AWS::Serverless::Function" and bool(
        effective_function_properties(template, fn).get("AutoPublishAlias")
    )


def reference_findings(template: dict) -> list[str]:
    out: list[str] = []
    conditions = set(template.get("Conditions", {}))
    for path, node in _walk({k: template.get(k) for k in ("Globals", "Resources", "Outputs", "Conditions")}, ""):
        if not isinstance(node, dict) or len(node) != 1:
            continue
        (key, value), = node.items()
        if key == "Ref" and isinstance(value, str):
            out += _check_target(template, value, None, path, set())
        elif key == "Fn::GetAtt":
            parts = value if isinstance(value, list) else str(value).split(".", 1)
            if len(parts) != 2:
                out.append(f"{path}: malformed GetAtt {value!r}")
            else:
                out += _check_target(template, parts[0], parts[1], path, set())
        elif key == "Fn::Sub":
            text, local = (value[0], set(value[1])) if isinstance(value, list) else (value, set())
            for var in SUB_VAR.findall(text):
                if "." in var and not var.startswith("AWS::"):
                    res, attr = var.split(".", 1)
                    out += _check_target(template, res, attr, path, local)
                else:
                    out += _check_target(template, var, None, path, local)
        elif key == "Fn::If":
            if not isinstance(value, list) or not value or value[0] not in conditions:
                out.append(f"{path}: Fn::If on undeclared condition {value[0] if value else value!r}")
    for name, res in template.get("Resources", {}).items():
        cond = res.get("Condition")
        if cond is not None and cond not in conditions:
            out.append(f"Resources.{name}: undeclared condition {cond!r}")
    return out


# ----------------------------------------------------------------------------------------------------------
# Functions and their events
# ----------------------------------------------------------------------------------------------------------
def _unknown_keys(node: Any, known: set[str], where: str) -> list[str]:
    if not isinstance(node, dict):
        return []
    return [f"{where}: unknown property {k!r}" for k in node if k not in known]


def _nested_findings(type_: str, props: dict, where: str) -> list[str]:
    out = []
    for key_path, known in NESTED_KEYS.items():
        if key_path[0] != type_:
            continue
        nodes: list[tuple[Any, str]] = [(props, where)]
        for part in key_path[1:]:
            nxt = []
            for node, w in nodes:
                if part == "[]":
                    nxt += [(item, f"{w}[{i}]") for i, item in enumerate(node if isinstance(node, list) else [])]
                elif isinstance(node, dict) and part in node:
                    nxt.append((node[part], f"{w}.{part}"))
            nodes = nxt
        for node, w in nodes:
            out += _unknown_keys(node, known, w)
    return out


def _getatt_target(value: Any, type_: str, template: dict) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attr = value["Fn::GetAtt"]
        if attr == "Arn" and template["Resources"].get(target, {}).get("Type") == type_:
            return target
    return None


def _stream_findings(template: dict, fn: str, event_name: str, props: dict) -> list[str]:
    where = f"{fn}.Events.{event_name}"
    out = []
    stream = props.get("Stream")
    if stream != {"Fn::GetAtt": ["StateTable", "StreamArn"]}:
        out.append(f"{where}: Stream is not the state table's stream")
    if props.get("BisectBatchOnFunctionError") is not True:
        out.append(f"{where}: BisectBatchOnFunctionError is not true")
    retries = props.get("MaximumRetryAttempts")
    if not isinstance(retries, int) or not 0 <= retries <= 10:
        out.append(f"{where}: MaximumRetryAttempts must be bounded (0..10), got {retries!r}")
    age = props.get("MaximumRecordAgeInSeconds")
    if not isinstance(age, int) or not 60 <= age <= 86400:
        out.append(f"{where}: MaximumRecordAgeInSeconds must be bounded (60..86400), got {age!r}")
    dest = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if _getatt_target(dest, "AWS::SQS::Queue", template) is None:
        out.append(f"{where}: no on-failure SQS destination")
    filters = props.get("FilterCriteria", {}).get("Filters", [])
    expected = EXPECTED_STREAM_KINDS.get(fn)
    if expected is None:
        out.append(f"{where}: {fn} is not expected to read the stream")
    elif len(filters) != 1:
        out.append(f"{where}: expected exactly one filter, got {len(filters)}")
    else:
        try:
            pattern = json.loads(filters[0]["Pattern"])
        except (KeyError, TypeError, ValueError) as e:
            return out + [f"{where}: filter pattern is not JSON ({e})"]
        if pattern.get("eventName") != ["INSERT"]:
            out.append(f"{where}: filter must select eventName INSERT only")
        kinds = pattern.get("dynamodb", {}).get("NewImage", {}).get("kind", {}).get("S")
        if not isinstance(kinds, list) or set(kinds) != expected:
            out.append(f"{where}: filter kinds {kinds!r} != {sorted(expected)!r}")
    return out


def function_findings(template: dict, template_dir: Path) -> list[str]:
    out: list[str] = []
    functions = _resources_of(template, "AWS::Serverless::Function")
    if set(functions) != set(EXPECTED_EVENTS):
        out.append(f"functions {sorted(functions)} != {sorted(EXPECTED_EVENTS)}")
    for fn, res in functions.items():
        props = effective_function_properties(template, fn)
        if props.get("Runtime") != RUNTIME:
            out.append(f"{fn}: runtime {props.get('Runtime')!r} is not {RUNTIME}")
        if props.get("Architectures") != ["arm64"]:
            out.append(f"{fn}: Architectures {props.get('Architectures')!r} is not [arm64]")
        if props.get("Handler") != "bootstrap":
            out.append(f"{fn}: Handler {props.get('Handler')!r} is not bootstrap")
        meta = res.get("Metadata", {})
        if meta.get("BuildMethod") != "rust-cargolambda":
            out.append(f"{fn}: Metadata.BuildMethod is not rust-cargolambda")
        binary = meta.get("BuildProperties", {}).get("Binary")
        code = props.get("CodeUri")
        crate = (template_dir / code).resolve() if isinstance(code, str) else None
        if crate is None or not (crate / "Cargo.toml").is_file():
            out.append(f"{fn}: CodeUri {code!r} is not a crate directory")
        else:
            manifest = tomllib.loads((crate / "Cargo.toml").read_text())
            bins = {b.get("name") for b in manifest.get("bin", [])} | {manifest.get("package", {}).get("name")}
            if binary not in bins:
                out.append(f"{fn}: BuildProperties.Binary {binary!r} is not a binary of {code} ({sorted(bins)})")
        if "Policies" in props or "Role" not in props:
            out.append(f"{fn}: must use its own Role (no SAM Policies)")
        env = props.get("Environment", {}).get("Variables", {})
        if "MICROSOFT_APP_PASSWORD" in env:
            out.append(f"{fn}: MICROSOFT_APP_PASSWORD must not be an environment value")
        secret_ref = env.get(SECRET_ENV)
        if not (isinstance(secret_ref, dict) and secret_ref.get("Ref") in _resources_of(template, "AWS::SecretsManager::Secret")):
            out.append(f"{fn}: {SECRET_ENV} must be a Ref to an AWS::SecretsManager::Secret")
        for var in ("MICROSOFT_APP_ID", "MICROSOFT_APP_TENANT_ID", "MICROSOFT_APP_TYPE", "STATE_STORE", "TABLE_NAME", "RUST_LOG"):
            if var not in env:
                out.append(f"{fn}: environment lacks {var}")
        if env.get("STATE_STORE") != "dynamodb":
            out.append(f"{fn}: STATE_STORE is not dynamodb")
        log_group = props.get("LoggingConfig", {}).get("LogGroup", {})
        lg = template["Resources"].get(log_group.get("Ref") if isinstance(log_group, dict) else None)
        if not lg or lg.get("Type") != "AWS::Logs::LogGroup" or "RetentionInDays" not in lg.get("Properties", {}):
            out.append(f"{fn}: LoggingConfig.LogGroup is not a log group with RetentionInDays")
        out += operations_function_findings(template, fn, props)

        events = props.get("Events", {})
        types = [e.get("Type") for e in events.values()]
        if sorted(types) != sorted(EXPECTED_EVENTS.get(fn, set())):
            out.append(f"{fn}: event types {sorted(map(str, types))} != {sorted(EXPECTED_EVENTS.get(fn, set()))}")
        for ev_name, ev in events.items():
            type_ = ev.get("Type")
            model = EVENT_MODELS.get(type_)
            where = f"{fn}.Events.{ev_name}"
            if model is None:
                out.append(f"{where}: event type {type_!r} is not one we use")
                continue
            out += _unknown_keys(ev, {"Type", "Properties"}, where)
            p = ev.get("Properties", {})
            out += _unknown_keys(p, _model_fields(model), f"{where}.Properties")
            out += _nested_findings(type_, p, f"{where}.Properties")
            if type_ == "DynamoDB":
                out += _stream_findings(template, fn, ev_name, p)
            elif type_ == "ScheduleV2":
                rp = p.get("RetryPolicy", {})
                if not isinstance(rp.get("MaximumRetryAttempts"), int) or not isinstance(rp.get("MaximumEventAgeInSeconds"), int):
                    out.append(f"{where}: needs a RetryPolicy with MaximumRetryAttempts and MaximumEventAgeInSeconds")
                if _getatt_target(p.get("DeadLetterConfig", {}).get("Arn"), "AWS::SQS::Queue", template) is None:
                    out.append(f"{where}: needs DeadLetterConfig.Arn of an SQS queue declared in the template")
                if p.get("ScheduleExpression") != {"Ref": "PollScheduleRate"}:
                    out.append(f"{where}: ScheduleExpression must be the PollScheduleRate parameter")
                # EventBridge Scheduler has no envelope of its own: without an Input the function gets an empty
                # payload, which is not the schedule (service::stream::TICK_INPUT, the e2e test sends it).
                try:
                    tick = json.loads(p.get("Input", ""))
                except (TypeError, ValueError):
                    tick = None
                if not (isinstance(tick, dict) and tick == {"tick": {}}):
                    out.append(f"{where}: Input must be '{{\"tick\": {{}}}}' (what the function knows as the schedule)")
            elif type_ == "HttpApi":
                if p.get("Path") != "/api/messages" or p.get("Method") != "POST":
                    out.append(f"{where}: must be POST /api/messages")
    return out


# ----------------------------------------------------------------------------------------------------------
# Operations, per function: tracing, logging, alias and gradual deployment, where failed records go
# ----------------------------------------------------------------------------------------------------------
# Lambda gives a JSON line without a "level" (an EMF metric line) the level INFO: a filter above INFO would drop
# the runtime's metrics, so the application log level may only be one of these.
APPLICATION_LOG_LEVELS = {"TRACE", "DEBUG", "INFO"}
ALIAS = "live"
GRADUAL_DEPLOYMENTS = re.compile(r"^(Canary10Percent(5|10|15|30)Minutes|Linear10PercentEvery(1|2|3|10)Minutes?)$")
FAILED_RECORDS_BUCKET_ENV = "FAILED_RECORDS_BUCKET"
FAILED_RECORDS_PREFIX_ENV = "FAILED_RECORDS_PREFIX"


def _param_value(template: dict, value: Any) -> tuple[Any, list | None]:
    """A literal, or a parameter's default and allowed values (None when not constrained)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        param = template.get("Parameters", {}).get(value["Ref"])
        if param is not None:
            return param.get("Default"), param.get("AllowedValues")
    return value, [value]


def _is_version_errors_alarm(template: dict, alarm_ref: Any, fn: str) -> bool:
    if not (isinstance(alarm_ref, dict) and set(alarm_ref) == {"Ref"}):
        return False
    alarm = template.get("Resources", {}).get(alarm_ref["Ref"], {})
    props = alarm.get("Properties", {})
    dims = props.get("Dimensions", [])
    return (
        alarm.get("Type") == "AWS::CloudWatch::Alarm"
        and props.get("Namespace") == "AWS/Lambda"
        and props.get("MetricName") == "Errors"
        and {"Name": "FunctionName", "Value": {"Ref": fn}} in dims
        and {"Name": "ExecutedVersion", "Value": {"Fn::GetAtt": [fn, "Version.Version"]}} in dims
    )


def operations_function_findings(template: dict, fn: str, props: dict) -> list[str]:
    out: list[str] = []
    if props.get("Tracing") != "Active":
        out.append(f"{fn}: Tracing is {props.get('Tracing')!r}, not Active (X-Ray)")
    logging_config = props.get("LoggingConfig", {})
    if logging_config.get("LogFormat") != "JSON":
        out.append(f"{fn}: LoggingConfig.LogFormat is not JSON")
    default, allowed = _param_value(template, logging_config.get("ApplicationLogLevel"))
    if default not in APPLICATION_LOG_LEVELS or allowed is None or not set(allowed) <= APPLICATION_LOG_LEVELS:
        out.append(
            f"{fn}: LoggingConfig.ApplicationLogLevel must be one of {sorted(APPLICATION_LOG_LEVELS)} (a parameter "
            "restricted to them): above INFO, Lambda drops the runtime's EMF metric lines"
        )
    default, _ = _param_value(template, logging_config.get("SystemLogLevel"))
    if default != "WARN":
        out.append(f"{fn}: LoggingConfig.SystemLogLevel must be WARN (or a parameter defaulting to WARN), got {default!r}")
    if props.get("AutoPublishAlias") != ALIAS:
        out.append(f"{fn}: AutoPublishAlias must be {ALIAS!r} (every trigger then targets the alias)")
    pref = props.get("DeploymentPreference")
    if not isinstance(pref, dict) or pref.get("Enabled") is False:
        out.append(f"{fn}: no DeploymentPreference (gradual deployment of the {ALIAS} alias)")
    else:
        default, _ = _param_value(template, pref.get("Type"))
        if not (isinstance(default, str) and GRADUAL_DEPLOYMENTS.match(default)):
            out.append(f"{fn}: DeploymentPreference.Type defaults to {default!r}, not a gradual (Canary/Linear) type")
        if not any(_is_version_errors_alarm(template, a, fn) for a in _as_list(pref.get("Alarms", []))):
            out.append(f"{fn}: DeploymentPreference.Alarms lacks the Errors alarm of its new version (ExecutedVersion)")
    streams = any(e.get("Type") == "DynamoDB" for e in props.get("Events", {}).values())
    env = props.get("Environment", {}).get("Variables", {})
    if streams:
        bucket = env.get(FAILED_RECORDS_BUCKET_ENV)
        prefix = env.get(FAILED_RECORDS_PREFIX_ENV)
        target = bucket.get("Ref") if isinstance(bucket, dict) else None
        if template.get("Resources", {}).get(target, {}).get("Type") != "AWS::S3::Bucket":
            out.append(f"{fn}: {FAILED_RECORDS_BUCKET_ENV} must be a Ref to the failed-records bucket")
        elif not (isinstance(prefix, str) and ("s3:PutObject", f"objects:{target}/{prefix}*") in EXPECTED_GRANTS.get(fn, set())):
            out.append(f"{fn}: {FAILED_RECORDS_PREFIX_ENV} {prefix!r} is not a prefix it may write in {target}")
    return out


# ----------------------------------------------------------------------------------------------------------
# Least privilege
# ----------------------------------------------------------------------------------------------------------
def _symbol(template: dict, resource: Any) -> str | None:
    """A policy resource as a symbol from EXPECTED_GRANTS' vocabulary, or None if it is not one we allow."""
    res = template.get("Resources", {})
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target, attr = resource["Fn::GetAtt"]
        type_ = res.get(target, {}).get("Type")
        if type_ == "AWS::DynamoDB::Table" and attr == "Arn":
            return "table"
        if type_ == "AWS::DynamoDB::Table" and attr == "StreamArn":
            return "stream"
        if type_ == "AWS::Logs::LogGroup" and attr == "Arn":
            return f"log:{target}"
        if type_ == "AWS::SQS::Queue" and attr == "Arn":
            return f"queue:{target}"
    if isinstance(resource, dict) and "Ref" in resource:
        if res.get(resource["Ref"], {}).get("Type") == "AWS::SecretsManager::Secret":
            return f"secret:{resource['Ref']}"
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        m = re.fullmatch(r"\$\{(\w+)\.Arn\}/(index/(\w+)|stream/\*)", resource["Fn::Sub"])
        if m and res.get(m.group(1), {}).get("Type") == "AWS::DynamoDB::Table":
            return f"index:{m.group(3)}" if m.group(3) else "table-streams"
        # Objects under one prefix of a bucket: ${Bucket.Arn}/<prefix>/* (never the whole bucket).
        m = re.fullmatch(r"\$\{(\w+)\.Arn\}/([a-z0-9-]+/)\*", resource["Fn::Sub"])
        if m and res.get(m.group(1), {}).get("Type") == "AWS::S3::Bucket":
            return f"objects:{m.group(1)}/{m.group(2)}*"
    if resource == "*":
        return "*"
    return None


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def role_grants(template: dict, role_name: str) -> tuple[set[tuple[str, str]], list[str]]:
    """The (action, resource symbol) pairs a role allows, and findings for anything outside the vocabulary."""
    out: list[str] = []
    grants: set[tuple[str, str]] = set()
    role = template["Resources"].get(role_name, {})
    props = role.get("Properties", {})
    where = f"Resources.{role_name}"
    if role.get("Type") != "AWS::IAM::Role":
        return grants, [f"{where}: not an AWS::IAM::Role"]
    for key in ("ManagedPolicyArns", "PermissionsBoundary"):
        if key in props:
            out.append(f"{where}: {key} is not allowed (inline least-privilege statements only)")
    trust = props.get("AssumeRolePolicyDocument", {}).get("Statement", [])
    principals = [s.get("Principal") for s in trust]
    if principals != [{"Service": "lambda.amazonaws.com"}]:
        out.append(f"{where}: trust must be lambda.amazonaws.com only, got {principals!r}")
    for pol in props.get("Policies", []):
        for st in _as_list(pol.get("PolicyDocument", {}).get("Statement", [])):
            sid = f"{where}.{pol.get('PolicyName')}.{st.get('Sid', '?')}"
            for bad in ("NotAction", "NotResource"):
                if bad in st:
                    out.append(f"{sid}: {bad} is not allowed")
            if st.get("Effect") != "Allow":
                continue
            actions = _as_list(st.get("Action", []))
            for a in actions:
                if not isinstance(a, str) or "*" in a:
                    out.append(f"{sid}: wildcard or non-literal action {a!r}")
            for r in _as_list(st.get("Resource", [])):
                sym = _symbol(template, r)
                if sym is None or (sym == "*" and not set(actions) <= XRAY_WRITE):
                    out.append(
                        f"{sid}: resource {r!r} is not the table, its index or stream, a log group, queue, secret or "
                        "a bucket prefix ('*' only for X-Ray's write actions)"
                    )
                    continue
                grants |= {(a, sym) for a in actions if isinstance(a, str)}
    return grants, out


def privilege_findings(template: dict) -> list[str]:
    out: list[str] = []
    for fn in _resources_of(template, "AWS::Serverless::Function"):
        role = effective_function_properties(template, fn).get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role and role["Fn::GetAtt"][1] == "Arn"):
            out.append(f"{fn}: Role must be !GetAtt <Role>.Arn")
            continue
        grants, problems = role_grants(template, role["Fn::GetAtt"][0])
        out += problems
        expected = EXPECTED_GRANTS.get(fn, set())
        for a, r in sorted(grants - expected):
            out.append(f"{fn}: grants {a} on {r}, beyond what it needs")
        for a, r in sorted(expected - grants):
            out.append(f"{fn}: lacks {a} on {r}")
    return out


# ----------------------------------------------------------------------------------------------------------
# Everything else
# ----------------------------------------------------------------------------------------------------------
def other_findings(template: dict) -> list[str]:
    out: list[str] = []
    for name in template.get("Parameters", {}):
        if re.search(r"password|secret", name, re.I) and not name.endswith("Arn"):
            out.append(f"Parameters.{name}: secrets come from Secrets Manager, never a parameter")
    tables = _resources_of(template, "AWS::DynamoDB::Table")
    if list(tables) != ["StateTable"]:
        out.append(f"expected one table StateTable, got {sorted(tables)}")
    else:
        props = copy.deepcopy(tables["StateTable"].get("Properties", {}))
        props["AttributeDefinitions"] = sorted(props.get("AttributeDefinitions", []), key=lambda d: d.get("AttributeName", ""))
        for key, want in TABLE_SHAPE.items():
            if props.get(key) != want:
                out.append(f"StateTable.{key} is {props.get(key)!r}, the store expects {want!r}")
    for q in _resources_of(template, "AWS::SQS::Queue"):
        if not _alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", [("QueueName", {"Fn::GetAtt": [q, "QueueName"]})]):
            out.append(f"{q}: no queue depth alarm")
    # A SingleTenant app with no tenant id deploys, then every function fails at start (no token endpoint): the
    # template's Rules must refuse that parameter combination.
    single_tenant = {"Fn::Equals": [{"Ref": "MicrosoftAppType"}, "SingleTenant"]}
    tenant_given = {"Fn::Not": [{"Fn::Equals": [{"Ref": "MicrosoftAppTenantId"}, ""]}]}
    if not any(
        rule.get("RuleCondition") == single_tenant and any(a.get("Assert") == tenant_given for a in rule.get("Assertions", []))
        for rule in template.get("Rules", {}).values()
    ):
        out.append("Rules: a SingleTenant MicrosoftAppType must require a non-empty MicrosoftAppTenantId")
    return out


# ----------------------------------------------------------------------------------------------------------
# Alarms: who they notify, and what they watch
# ----------------------------------------------------------------------------------------------------------
# The runtime's own metrics (CloudWatch Embedded Metric Format lines the functions print): namespace, the one
# dimension (the function's name, AWS_LAMBDA_FUNCTION_NAME) and, per function, the metrics alarmed on.
RUNTIME_NAMESPACE = "TeamsBot"
RUNTIME_DIMENSION = "Function"
EXPECTED_RUNTIME_ALARMS = {
    "MessagesFunction": {"RepliesFailed", "OutboundTokenFailed", "StoreUnavailable", "ConnectorThrottled"},
    # FailedRecordsNotSaved: a failed stream record whose copy for infra/redrive could not be written.
    "WelcomeFunction": {"OutboundTokenFailed", "StoreUnavailable", "ConnectorThrottled", "FailedRecordsNotSaved"},
    "ProactiveFunction": {
        "ProactiveFailed",
        "OutboundTokenFailed",
        "StoreUnavailable",
        "ConnectorThrottled",
        "FailedRecordsNotSaved",
    },
}
# Duration alarms fire between these fractions of the function's timeout ("near the timeout", not at it).
DURATION_NEAR_TIMEOUT = (0.5, 1.0)


def _alarms_on(template: dict, namespace: str, metric: str, dims: list[tuple[str, Any]]) -> list[tuple[str, dict]]:
    """The alarms on exactly this metric and dimension set (order-insensitive)."""
    want = sorted((json.dumps({"Name": n, "Value": v}, sort_keys=True) for n, v in dims))
    out = []
    for name, alarm in _resources_of(template, "AWS::CloudWatch::Alarm").items():
        props = alarm.get("Properties", {})
        got = sorted(json.dumps(d, sort_keys=True) for d in props.get("Dimensions", []))
        if props.get("Namespace") == namespace and props.get("MetricName") == metric and got == want:
            out.append((name, props))
    return out


def _conditions_defined_as(template: dict, definition: Any) -> set[str]:
    return {name for name, d in template.get("Conditions", {}).items() if d == definition}


def _not_empty(param: str) -> dict:
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": param}, ""]}]}


def alarm_action_findings(template: dict) -> list[str]:
    """Every alarm notifies the stack's own topic on ALARM and on OK (and AlarmTopicArn when given)."""
    out: list[str] = []
    topics = [n for n, r in _resources_of(template, "AWS::SNS::Topic").items() if "Condition" not in r]
    if not topics:
        return ["no unconditional AWS::SNS::Topic: by default the alarms would notify nobody"]
    own = [{"Ref": t} for t in topics]
    override = None
    if "AlarmTopicArn" in template.get("Parameters", {}):
        conds = _conditions_defined_as(template, _not_empty("AlarmTopicArn"))
        override = [{"Fn::If": [c, {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]} for c in conds]
        if not conds:
            out.append("Conditions: no condition 'AlarmTopicArn is not empty' for the optional extra topic")
    for name, alarm in _resources_of(template, "AWS::CloudWatch::Alarm").items():
        props = alarm.get("Properties", {})
        for key in ("AlarmActions", "OKActions"):
            actions = props.get(key)
            if not isinstance(actions, list) or not any(a in own for a in actions):
                out.append(f"{name}: {key} does not notify the stack's alarm topic {topics}")
            elif override is not None and not any(o in actions for o in override):
                out.append(f"{name}: {key} does not notify AlarmTopicArn when it is given")
        if props.get("TreatMissingData") != "notBreaching":
            out.append(f"{name}: TreatMissingData must be notBreaching (our metrics are sparse: no data = nothing happened)")
    # CloudWatch may publish to the topic (its policy names the service, for this account's alarms only).
    for topic in topics:
        allowed = False
        for pol in _resources_of(template, "AWS::SNS::TopicPolicy").values():
            pp = pol.get("Properties", {})
            if {"Ref": topic} not in pp.get("Topics", []):
                continue
            for st in _as_list(pp.get("PolicyDocument", {}).get("Statement", [])):
                if (
                    st.get("Effect") == "Allow"
                    and st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
                    and "sns:Publish" in _as_list(st.get("Action"))
                    and "aws:SourceAccount" in st.get("Condition", {}).get("StringEquals", {})
                ):
                    allowed = True
        if not allowed:
            out.append(f"{topic}: no topic policy lets cloudwatch.amazonaws.com publish (for this account's alarms)")
    if "AlarmEmail" in template.get("Parameters", {}):
        conds = _conditions_defined_as(template, _not_empty("AlarmEmail"))
        subs = [
            r for r in _resources_of(template, "AWS::SNS::Subscription").values()
            if r.get("Condition") in conds
            and r.get("Properties", {}).get("Protocol") == "email"
            and r.get("Properties", {}).get("Endpoint") == {"Ref": "AlarmEmail"}
            and r.get("Properties", {}).get("TopicArn") in own
        ]
        if not subs:
            out.append("AlarmEmail: no email subscription to the alarm topic, conditional on AlarmEmail being set")
    return out


def alarm_coverage_findings(template: dict) -> list[str]:
    """Alarms on what means trouble: Lambda's errors, throttles, duration, iterator age; the endpoint's 5xx; the
    runtime's metrics."""
    out: list[str] = []
    for fn in _resources_of(template, "AWS::Serverless::Function"):
        props = effective_function_properties(template, fn)
        by_name = [("FunctionName", {"Ref": fn})]
        if not _alarms_on(template, "AWS/Lambda", "Errors", by_name):
            out.append(f"{fn}: no Errors alarm")
        if not _alarms_on(template, "AWS/Lambda", "Throttles", by_name):
            out.append(f"{fn}: no Throttles alarm")
        timeout_ms = props.get("Timeout", 3) * 1000
        durations = _alarms_on(template, "AWS/Lambda", "Duration", by_name)
        low, high = DURATION_NEAR_TIMEOUT
        if not any(
            p.get("Statistic") == "Maximum" and low * timeout_ms <= p.get("Threshold", -1) < high * timeout_ms
            for _, p in durations
        ):
            out.append(f"{fn}: no Duration alarm (Maximum) between {low:.0%} and {high:.0%} of its {timeout_ms} ms timeout")
        ages = [
            e["Properties"].get("MaximumRecordAgeInSeconds", 86400) * 1000
            for e in props.get("Events", {}).values()
            if e.get("Type") == "DynamoDB"
        ]
        if ages and not any(
            p.get("Statistic") == "Maximum" and 0 < p.get("Threshold", -1) < min(ages)
            for _, p in _alarms_on(template, "AWS/Lambda", "IteratorAge", by_name)
        ):
            out.append(f"{fn}: no IteratorAge alarm (Maximum) below its mappings' {min(ages)} ms record age")
        for metric in sorted(EXPECTED_RUNTIME_ALARMS.get(fn, set())):
            if not _alarms_on(template, RUNTIME_NAMESPACE, metric, [(RUNTIME_DIMENSION, {"Ref": fn})]):
                out.append(f"{fn}: no alarm on the runtime's {RUNTIME_NAMESPACE}/{metric} ({RUNTIME_DIMENSION} = its name)")
    for api in _resources_of(template, "AWS::Serverless::HttpApi"):
        if not _alarms_on(template, "AWS/ApiGateway", "5xx", [("ApiId", {"Ref": api})]):
            out.append(f"{api}: no 5xx alarm")
    for url_name, url in _resources_of(template, "AWS::Lambda::Url").items():
        target = url.get("Properties", {}).get("TargetFunctionArn", {})
        fn = target.get("Ref", "").partition(".")[0] if isinstance(target, dict) else ""
        found = _alarms_on(template, "AWS/Lambda", "Url5xxCount", [("FunctionName", {"Ref": fn})])
        names = [n for n, _ in found if template["Resources"][n].get("Condition") == url.get("Condition")]
        if not names:
            out.append(f"{url_name}: no Url5xxCount alarm (under the URL's own condition)")
    return out


# ----------------------------------------------------------------------------------------------------------
# What outlives the stack, the endpoint, and the failed records
# ----------------------------------------------------------------------------------------------------------
def _retained(res: dict) -> bool:
    return res.get("DeletionPolicy") == "Retain" and res.get("UpdateReplacePolicy") == "Retain"


def retention_findings(template: dict) -> list[str]:
    out: list[str] = []
    for name, table in _resources_of(template, "AWS::DynamoDB::Table").items():
        if table.get("Properties", {}).get("DeletionProtectionEnabled") is not True:
            out.append(f"{name}: DeletionProtectionEnabled must be true")
        if not _retained(table):
            out.append(f"{name}: DeletionPolicy and UpdateReplacePolicy must be Retain")
    for name, secret in _resources_of(template, "AWS::SecretsManager::Secret").items():
        if not _retained(secret):
            out.append(f"{name}: DeletionPolicy and UpdateReplacePolicy must be Retain (the value was put by hand)")
    for name, bucket in _resources_of(template, "AWS::S3::Bucket").items():
        props = bucket.get("Properties", {})
        if not _retained(bucket):
            out.append(f"{name}: DeletionPolicy and UpdateReplacePolicy must be Retain")
        block = props.get("PublicAccessBlockConfiguration", {})
        if any(block.get(k) is not True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")):
            out.append(f"{name}: PublicAccessBlockConfiguration must block all public access")
        if not props.get("BucketEncryption"):
            out.append(f"{name}: no BucketEncryption")
    for name, group in _resources_of(template, "AWS::Logs::LogGroup").items():
        if "RetentionInDays" not in group.get("Properties", {}):
            out.append(f"{name}: no RetentionInDays")
    return out


def _is_log_group_arn(template: dict, value: Any) -> bool:
    target = _getatt_target(value, "AWS::Logs::LogGroup", template)
    return target is not None and "RetentionInDays" in template["Resources"][target].get("Properties", {})


def endpoint_findings(template: dict) -> list[str]:
    """The HTTP API's access logs; the optional function URL (MessagesEndpoint); the MessagingEndpoint output."""
    out: list[str] = []
    apis = _resources_of(template, "AWS::Serverless::HttpApi")
    for name, api in apis.items():
        logs = api.get("Properties", {}).get("AccessLogSettings", {})
        if not _is_log_group_arn(template, logs.get("DestinationArn")):
            out.append(f"{name}: AccessLogSettings.DestinationArn is not a log group with RetentionInDays")
        try:
            fmt = json.loads(logs.get("Format", ""))
        except (TypeError, ValueError):
            fmt = None
        if not isinstance(fmt, dict) or not all(isinstance(v, str) and v.startswith("$context.") for v in fmt.values()):
            out.append(f"{name}: AccessLogSettings.Format must be one JSON object of $context variables")
        elif not {"$context.requestId", "$context.status"} <= set(fmt.values()):
            out.append(f"{name}: AccessLogSettings.Format must log $context.requestId and $context.status")
    public = [
        (n, p) for n, p in _resources_of(template, "AWS::Lambda::Permission").items() if p.get("Properties", {}).get("Principal") == "*"
    ]
    for name, perm in public:
        pp = perm.get("Properties", {})
        if not (pp.get("FunctionUrlAuthType") == "NONE" and pp.get("Action") == "lambda:InvokeFunctionUrl") and not (
            pp.get("InvokedViaFunctionUrl") is True and pp.get("Action") == "lambda:InvokeFunction"
        ):
            out.append(f"{name}: a permission for anyone ('*') must be limited to the function URL")

    http_api_url = None
    endpoint = template.get("Outputs", {}).get("MessagingEndpoint", {}).get("Value", {})
    if "MessagesEndpoint" in template.get("Parameters", {}):
        conds = _conditions_defined_as(template, {"Fn::Equals": [{"Ref": "MessagesEndpoint"}, "FunctionUrl"]})
        cond = next(iter(sorted(conds)), None)
        urls = {
            n: u for n, u in _resources_of(template, "AWS::Lambda::Url").items()
            if u.get("Condition") == cond and cond is not None
            and u.get("Properties", {}).get("AuthType") == "NONE"
            and u.get("Properties", {}).get("TargetFunctionArn") == {"Ref": "MessagesFunction.Alias"}
        }
        if not urls:
            out.append("MessagesEndpoint: no AWS::Lambda::Url (AuthType NONE, on MessagesFunction.Alias) under its condition")
        grants = {
            p.get("Properties", {}).get("Action")
            for _, p in public
            if p.get("Condition") == cond and p.get("Properties", {}).get("FunctionName") == {"Ref": "MessagesFunction.Alias"}
        }
        if grants != {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}:
            out.append("MessagesEndpoint: the function URL needs both public grants (InvokeFunctionUrl, InvokeFunction via the URL) on the alias")
        for name, api in apis.items():
            if api.get("Properties", {}).get("DisableExecuteApiEndpoint") != {"Fn::If": [cond, True, False]}:
                out.append(f"{name}: DisableExecuteApiEndpoint must be on exactly when the function URL is the endpoint")
        if isinstance(endpoint, dict) and isinstance(endpoint.get("Fn::If"), list) and len(endpoint["Fn::If"]) == 3:
            c, url_value, http_api_url = endpoint["Fn::If"]
            want = [{"Fn::Sub": f"${{{u}.FunctionUrl}}api/messages"} for u in urls]
            if c != cond or url_value not in want:
                out.append("Outputs.MessagingEndpoint must be the function URL + api/messages when MessagesEndpoint=FunctionUrl")
        else:
            out.append("Outputs.MessagingEndpoint must follow MessagesEndpoint (Fn::If on its condition)")
    else:
        http_api_url = endpoint
    sub = http_api_url.get("Fn::Sub") if isinstance(http_api_url, dict) else None
    if not (isinstance(sub, str) and sub.endswith("/api/messages") and any(f"${{{a}}}" in sub for a in apis)):
        out.append("Outputs.MessagingEndpoint must be the HTTP API's URL ending in /api/messages")
    return out


def failed_records_findings(template: dict) -> list[str]:
    """The on-failure queues hold only which records failed; the full records must outlive those messages."""
    out: list[str] = []
    queues = set()
    stream_functions = set()
    for fn in _resources_of(template, "AWS::Serverless::Function"):
        for ev in effective_function_properties(template, fn).get("Events", {}).values():
            dest = ev.get("Properties", {}).get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if ev.get("Type") == "DynamoDB" and (q := _getatt_target(dest, "AWS::SQS::Queue", template)):
                queues.add(q)
                stream_functions.add(fn)
    if not queues:
        return out
    # infra/redrive replays a failed record through the function its mapping invokes, the `live` alias: the stack
    # names that alias in an output.
    outputs = [o.get("Value") for o in template.get("Outputs", {}).values() if isinstance(o, dict)]
    for fn in sorted(stream_functions):
        if {"Ref": f"{fn}.Alias"} not in outputs:
            out.append(f"{fn}: no output naming its `live` alias (!Ref {fn}.Alias), the function infra/redrive invokes")
    kept = max(template["Resources"][q].get("Properties", {}).get("MessageRetentionPeriod", 345600) for q in queues)
    buckets = _resources_of(template, "AWS::S3::Bucket")
    if not buckets:
        return ["no failed-records bucket: the on-failure queues name records the stream forgets after 24 h"]
    for name, bucket in buckets.items():
        rules = bucket.get("Properties", {}).get("LifecycleConfiguration", {}).get("Rules", [])
        days = [r.get("ExpirationInDays") for r in rules if r.get("Status") == "Enabled" and "ExpirationInDays" in r]
        if not days:
            out.append(f"{name}: no lifecycle expiration (failed records would be kept forever)")
            continue
        for d in days:
            param = template.get("Parameters", {}).get(d.get("Ref")) if isinstance(d, dict) else None
            shortest = param.get("MinValue") if param is not None else d
            if not isinstance(shortest, int) or shortest * 86400 <= kept:
                out.append(
                    f"{name}: records may expire after {shortest!r} days, before the on-failure queues forget them "
                    f"({kept // 86400} days)"
                )
    return out


def findings(template: dict, template_dir: Path) -> list[str]:
    """Every problem our rules find in a SAM template (empty list = clean)."""
    return (
        reference_findings(template)
        + function_findings(template, template_dir)
        + privilege_findings(template)
        + other_findings(template)
        + alarm_action_findings(template)
        + alarm_coverage_findings(template)
        + retention_findings(template)
        + endpoint_findings(template)
        + failed_records_findings(template)
    )


# The one managed policy SAM's output may attach: CodeDeploy's service role for the gradual deployments (SAM
# generates it; AWS maintains the policy; it acts on aliases and alarms, never on the bot's data).
CODEDEPLOY_ROLE = "CodeDeployServiceRole"
CODEDEPLOY_POLICY = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"


def transformed_findings(template: dict) -> list[str]:
    """Run SAM's own transform offline and check every IAM statement it produces has no wildcard (X-Ray's write
    actions aside), that the only managed policy is CodeDeploy's, and that every trigger targets the alias."""
    import logging

    from samtranslator.translator.transform import transform

    logging.getLogger("samtranslator").setLevel(logging.ERROR)

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    t = copy.deepcopy(template)
    for res in t.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function":
            res.setdefault("Properties", {})["CodeUri"] = "s3://bucket/key"
    out = []
    try:
        cfn = transform(t, {}, NoManagedPolicies())
    except Exception as e:  # the translator's own errors are findings too
        return [f"SAM transform failed: {e}"]
    if cfn.get("Rules") != template.get("Rules"):
        out.append("transformed template: SAM did not keep the Rules as written")
    resources = cfn.get("Resources", {})
    aliases = {n for n, r in resources.items() if r.get("Type") == "AWS::Lambda::Alias"}
    for name, res in resources.items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Lambda::EventSourceMapping" and props.get("FunctionName", {}).get("Ref") not in aliases:
            out.append(f"transformed {name}: the mapping targets {props.get('FunctionName')!r}, not a function's alias")
        if res.get("Type") == "AWS::Scheduler::Schedule" and props.get("Target", {}).get("Arn", {}).get("Ref") not in aliases:
            out.append(f"transformed {name}: the schedule targets {props.get('Target', {}).get('Arn')!r}, not a function's alias")
        if res.get("Type") != "AWS::IAM::Role":
            continue
        managed = props.get("ManagedPolicyArns")
        codedeploy = (
            name == CODEDEPLOY_ROLE
            and managed == [CODEDEPLOY_POLICY]
            and [s.get("Principal") for s in props.get("AssumeRolePolicyDocument", {}).get("Statement", [])]
            == [{"Service": ["codedeploy.amazonaws.com"]}]
        )
        if managed and not codedeploy:
            out.append(f"transformed {name}: managed policies {managed!r}")
        for pol in props.get("Policies", []):
            for st in _as_list(pol.get("PolicyDocument", {}).get("Statement", [])):
                actions = _as_list(st.get("Action", []))
                for a in actions:
                    if not isinstance(a, str) or "*" in a:
                        out.append(f"transformed {name}: wildcard action {a!r}")
                for r in _as_list(st.get("Resource", [])):
                    if r == "*" and set(actions) <= XRAY_WRITE:
                        continue
                    if r == "*" or (isinstance(r, str) and r.endswith(":*") and "log-group" not in r):
                        out.append(f"transformed {name}: wildcard resource {r!r}")
    return out
