"""The operations rules of infra/template.yaml (issue #17): alarms that notify someone, alarms on what means trouble,
tracing and log settings, the alias and its gradual deployment, what outlives the stack, the endpoint and the failed
records. Each rule is proved able to fail: a one-change copy of the template must produce the named finding."""

from __future__ import annotations

import copy
import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import template_rules as rules  # noqa: E402

INFRA = Path(__file__).resolve().parent.parent
TEMPLATE = rules.load(INFRA / "template.yaml")
NOTE = INFRA.parent / "docs" / "decisions" / "2026-11-30-operations-infra.md"
FUNCTIONS = ("MessagesFunction", "WelcomeFunction", "ProactiveFunction")
# The metric names the runtime emits (EMF, namespace TeamsBot, dimension Function) and the template alarms on.
RUNTIME_METRICS = {
    "RepliesFailed",
    "ProactiveFailed",
    "OutboundTokenFailed",
    "StoreUnavailable",
    "ConnectorThrottled",
    "FailedRecordsNotSaved",
}
NEW_PARAMETERS = {
    "AlarmEmail",
    "AlarmTopicArn",
    "ApplicationLogLevel",
    "SystemLogLevel",
    "DeploymentType",
    "MessagesEndpoint",
    "FailedRecordRetentionDays",
}


def fresh() -> dict:
    return copy.deepcopy(TEMPLATE)


def props(t: dict, name: str) -> dict:
    return t["Resources"][name]["Properties"]


def alarms(t: dict) -> list[str]:
    return sorted(rules._resources_of(t, "AWS::CloudWatch::Alarm"))


def statement(t: dict, role: str, sid: str) -> dict:
    return next(s for s in props(t, role)["Policies"][0]["PolicyDocument"]["Statement"] if s.get("Sid") == sid)


def without_alias(t: dict) -> dict:
    """The template as it would be without AutoPublishAlias (and what needs the alias)."""
    del t["Globals"]["Function"]["AutoPublishAlias"]
    for fn in FUNCTIONS:
        del props(t, fn)["DeploymentPreference"]
    for name in list(t["Resources"]):
        if name.startswith("MessagesFunctionUrl") or name.endswith("NewVersionErrorsAlarm"):
            del t["Resources"][name]
    del t["Outputs"]["ProactiveFunctionAliasArn"]
    del t["Outputs"]["WelcomeFunctionAliasArn"]
    t["Outputs"]["MessagingEndpoint"]["Value"] = t["Outputs"]["MessagingEndpoint"]["Value"]["Fn::If"][2]
    return t


class RealTemplate(unittest.TestCase):
    def test_every_alarm_notifies_the_stack_topic_and_the_optional_one(self):
        own = {"Ref": "AlarmTopic"}
        extra = {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]}
        for name in alarms(TEMPLATE):
            for key in ("AlarmActions", "OKActions"):
                with self.subTest(alarm=name, key=key):
                    self.assertEqual(props(TEMPLATE, name)[key], [own, extra])

    def test_runtime_metric_names_are_the_agreed_ones(self):
        alarmed = {
            p["MetricName"] for p in (props(TEMPLATE, a) for a in alarms(TEMPLATE)) if p["Namespace"] == rules.RUNTIME_NAMESPACE
        }
        self.assertEqual(alarmed, RUNTIME_METRICS)
        self.assertEqual(set().union(*rules.EXPECTED_RUNTIME_ALARMS.values()), RUNTIME_METRICS)

    def test_the_note_names_every_metric_env_var_and_parameter(self):
        note = NOTE.read_text()
        names = RUNTIME_METRICS | {
            rules.RUNTIME_NAMESPACE,
            rules.FAILED_RECORDS_BUCKET_ENV,
            rules.FAILED_RECORDS_PREFIX_ENV,
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_LOG_LEVEL",
        }
        names |= NEW_PARAMETERS
        for name in sorted(names):
            with self.subTest(name=name):
                self.assertIn(f"`{name}`", note)

    def test_new_parameters_and_defaults(self):
        params = TEMPLATE["Parameters"]
        self.assertLessEqual(NEW_PARAMETERS, set(params))
        self.assertEqual(params["MessagesEndpoint"]["Default"], "HttpApi")
        self.assertEqual(params["AlarmEmail"]["Default"], "")
        self.assertEqual(params["AlarmTopicArn"]["Default"], "")


class Mutation(unittest.TestCase):
    def assertFinds(self, t: dict, *needles: str):
        found = rules.findings(t, INFRA)
        for needle in needles:
            self.assertTrue(any(needle in f for f in found), f"no finding containing {needle!r} in {found!r}")

    # --- where alarms go ------------------------------------------------------------------------------------
    def test_each_alarm_without_actions(self):
        for name in alarms(TEMPLATE):
            for key in ("AlarmActions", "OKActions"):
                with self.subTest(alarm=name, key=key):
                    t = fresh()
                    del props(t, name)[key]
                    self.assertFinds(t, f"{name}: {key} does not notify the stack's alarm topic")

    def test_alarm_notifying_only_the_optional_topic(self):  # what the template did before #17
        t = fresh()
        p = props(t, "ProactiveErrorsAlarm")
        p["AlarmActions"] = p["AlarmActions"][1]
        self.assertFinds(t, "ProactiveErrorsAlarm: AlarmActions does not notify the stack's alarm topic")

    def test_alarm_ignoring_the_optional_topic(self):
        t = fresh()
        props(t, "WelcomeIteratorAgeAlarm")["OKActions"] = [{"Ref": "AlarmTopic"}]
        self.assertFinds(t, "WelcomeIteratorAgeAlarm: OKActions does not notify AlarmTopicArn when it is given")

    def test_no_topic_by_default(self):
        t = fresh()
        t["Resources"]["AlarmTopic"]["Condition"] = "HasAlarmEmail"
        self.assertFinds(t, "no unconditional AWS::SNS::Topic")

    def test_topic_cloudwatch_may_not_publish_to(self):
        t = fresh()
        del t["Resources"]["AlarmTopicPolicy"]
        self.assertFinds(t, "AlarmTopic: no topic policy lets cloudwatch.amazonaws.com publish")
        t = fresh()
        del props(t, "AlarmTopicPolicy")["PolicyDocument"]["Statement"][0]["Condition"]  # any account's alarms
        self.assertFinds(t, "AlarmTopic: no topic policy lets cloudwatch.amazonaws.com publish")

    def test_alarm_email_not_subscribed(self):
        t = fresh()
        del t["Resources"]["AlarmEmailSubscription"]
        self.assertFinds(t, "AlarmEmail: no email subscription")
        t = fresh()
        del t["Resources"]["AlarmEmailSubscription"]["Condition"]
        self.assertFinds(t, "AlarmEmail: no email subscription")

    def test_missing_data_breaching(self):
        t = fresh()
        props(t, "MessagesRepliesFailedAlarm")["TreatMissingData"] = "breaching"
        self.assertFinds(t, "MessagesRepliesFailedAlarm: TreatMissingData must be notBreaching")

    # --- what the alarms watch ------------------------------------------------------------------------------
    def test_missing_lambda_alarms(self):
        for fn in FUNCTIONS:
            short = fn.removesuffix("Function")
            for alarm, needle in (
                ("ThrottlesAlarm", "no Throttles alarm"),
                ("DurationAlarm", "no Duration alarm"),
                ("ErrorsAlarm", "no Errors alarm"),  # the aggregate one: the new version's does not count
            ):
                with self.subTest(fn=fn, alarm=alarm):
                    t = fresh()
                    del t["Resources"][f"{short}{alarm}"]
                    self.assertFinds(t, f"{fn}: {needle}")

    def test_duration_alarm_not_near_the_timeout(self):
        t = fresh()
        props(t, "MessagesDurationAlarm")["Threshold"] = 15000  # at the timeout: fires only once it is too late
        self.assertFinds(t, "MessagesFunction: no Duration alarm (Maximum) between 50% and 100% of its 15000 ms")
        t = fresh()
        props(t, "WelcomeFunction")["Timeout"] = 300  # a longer timeout leaves the 96 s threshold far from it
        self.assertFinds(t, "WelcomeFunction: no Duration alarm")
        t = fresh()
        props(t, "ProactiveDurationAlarm")["Statistic"] = "Average"
        self.assertFinds(t, "ProactiveFunction: no Duration alarm")

    def test_iterator_age(self):
        for fn in ("WelcomeFunction", "ProactiveFunction"):
            with self.subTest(fn=fn):
                t = fresh()
                del t["Resources"][f"{fn.removesuffix('Function')}IteratorAgeAlarm"]
                self.assertFinds(t, f"{fn}: no IteratorAge alarm")
        t = fresh()
        props(t, "WelcomeIteratorAgeAlarm")["Threshold"] = 21600000  # the age at which records are dropped
        self.assertFinds(t, "WelcomeFunction: no IteratorAge alarm (Maximum) below its mappings' 21600000 ms")

    def test_missing_runtime_alarms(self):
        for fn, metrics in rules.EXPECTED_RUNTIME_ALARMS.items():
            for metric in sorted(metrics):
                with self.subTest(fn=fn, metric=metric):
                    t = fresh()
                    del t["Resources"][f"{fn.removesuffix('Function')}{metric}Alarm"]
                    self.assertFinds(t, f"{fn}: no alarm on the runtime's TeamsBot/{metric}")

    def test_runtime_alarm_on_the_wrong_metric(self):
        t = fresh()
        props(t, "WelcomeOutboundTokenFailedAlarm")["Dimensions"][0]["Name"] = "FunctionName"
        self.assertFinds(t, "WelcomeFunction: no alarm on the runtime's TeamsBot/OutboundTokenFailed (Function = its name)")
        t = fresh()
        props(t, "ProactiveProactiveFailedAlarm")["Namespace"] = "TeamsBot/Proactive"
        self.assertFinds(t, "ProactiveFunction: no alarm on the runtime's TeamsBot/ProactiveFailed")

    def test_missing_endpoint_5xx_alarms(self):
        t = fresh()
        del t["Resources"]["BotHttpApi5xxAlarm"]
        self.assertFinds(t, "BotHttpApi: no 5xx alarm")
        t = fresh()
        del t["Resources"]["MessagesFunctionUrl5xxAlarm"]
        self.assertFinds(t, "MessagesFunctionUrl: no Url5xxCount alarm")
        t = fresh()
        del t["Resources"]["MessagesFunctionUrl5xxAlarm"]["Condition"]  # would alarm on nothing, or on a URL that isn't there
        self.assertFinds(t, "MessagesFunctionUrl: no Url5xxCount alarm")

    # --- functions: tracing, logs, alias, deployment --------------------------------------------------------
    def test_no_tracing(self):
        t = fresh()
        del t["Globals"]["Function"]["Tracing"]
        self.assertFinds(t, *(f"{fn}: Tracing is None, not Active" for fn in FUNCTIONS))
        t = fresh()
        props(t, "WelcomeFunction")["Tracing"] = "PassThrough"
        self.assertFinds(t, "WelcomeFunction: Tracing is 'PassThrough', not Active")

    def test_no_json_logs(self):
        t = fresh()
        del t["Globals"]["Function"]["LoggingConfig"]
        self.assertFinds(
            t,
            *(f"{fn}: LoggingConfig.LogFormat is not JSON" for fn in FUNCTIONS),
            *(f"{fn}: LoggingConfig.ApplicationLogLevel must be one of" for fn in FUNCTIONS),
            *(f"{fn}: LoggingConfig.SystemLogLevel must be WARN" for fn in FUNCTIONS),
        )
        t = fresh()
        props(t, "ProactiveFunction")["LoggingConfig"]["LogFormat"] = "Text"
        self.assertFinds(t, "ProactiveFunction: LoggingConfig.LogFormat is not JSON")

    def test_application_log_level_that_drops_metrics(self):
        t = fresh()
        t["Parameters"]["ApplicationLogLevel"]["AllowedValues"].append("WARN")
        self.assertFinds(t, "MessagesFunction: LoggingConfig.ApplicationLogLevel must be one of")
        t = fresh()
        props(t, "MessagesFunction")["LoggingConfig"]["ApplicationLogLevel"] = "ERROR"
        self.assertFinds(t, "MessagesFunction: LoggingConfig.ApplicationLogLevel must be one of")
        t = fresh()
        del t["Parameters"]["ApplicationLogLevel"]["AllowedValues"]  # anything could be deployed
        self.assertFinds(t, "WelcomeFunction: LoggingConfig.ApplicationLogLevel must be one of")

    def test_system_log_level_not_warn(self):
        t = fresh()
        t["Parameters"]["SystemLogLevel"]["Default"] = "INFO"
        self.assertFinds(t, "WelcomeFunction: LoggingConfig.SystemLogLevel must be WARN")

    def test_no_alias(self):
        t = fresh()
        del t["Globals"]["Function"]["AutoPublishAlias"]
        self.assertFinds(
            t,
            *(f"{fn}: AutoPublishAlias must be 'live'" for fn in FUNCTIONS),
            "dangling reference to 'MessagesFunction.Alias'",
            "MessagesFunction.Version.Version needs AutoPublishAlias",
        )

    def test_no_gradual_deployment(self):
        t = fresh()
        del props(t, "WelcomeFunction")["DeploymentPreference"]
        self.assertFinds(t, "WelcomeFunction: no DeploymentPreference")
        t = fresh()
        t["Parameters"]["DeploymentType"]["Default"] = "AllAtOnce"
        self.assertFinds(t, *(f"{fn}: DeploymentPreference.Type defaults to 'AllAtOnce'" for fn in FUNCTIONS))
        t = fresh()
        props(t, "MessagesFunction")["DeploymentPreference"]["Type"] = "Canary10Percent1Minute"  # no such config
        self.assertFinds(t, "MessagesFunction: DeploymentPreference.Type defaults to 'Canary10Percent1Minute'")

    def test_rollback_alarm_not_the_new_versions(self):
        t = fresh()
        # The aggregate alarm may already be in ALARM (the deploy that fixes it would be rolled back): not allowed.
        props(t, "ProactiveFunction")["DeploymentPreference"]["Alarms"] = [{"Ref": "ProactiveErrorsAlarm"}]
        self.assertFinds(t, "ProactiveFunction: DeploymentPreference.Alarms lacks the Errors alarm of its new version")
        t = fresh()
        props(t, "MessagesFunction")["DeploymentPreference"]["Alarms"] = [{"Ref": "WelcomeNewVersionErrorsAlarm"}]
        self.assertFinds(t, "MessagesFunction: DeploymentPreference.Alarms lacks the Errors alarm of its new version")

    def test_transform_triggers_not_on_the_alias(self):
        found = rules.transformed_findings(without_alias(fresh()))
        for needle in (
            "transformed WelcomeFunctionClaims: the mapping targets",
            "transformed ProactiveFunctionOutbox: the mapping targets",
            "transformed ProactiveFunctionPoll: the schedule targets",
        ):
            self.assertTrue(any(needle in f for f in found), (needle, found))

    def test_transform_only_codedeploy_may_have_a_managed_policy(self):
        t = fresh()
        p = props(t, "WelcomeFunction")
        del p["Role"]
        p["Policies"] = [rules.CODEDEPLOY_POLICY]
        found = rules.transformed_findings(t)
        self.assertTrue(any(f.startswith("transformed WelcomeFunctionRole: managed policies") for f in found), found)
        self.assertFalse(any("CodeDeployServiceRole" in f for f in found), found)

    # --- grants ---------------------------------------------------------------------------------------------
    def test_no_xray_grant(self):
        t = fresh()
        statements = props(t, "MessagesRole")["Policies"][0]["PolicyDocument"]["Statement"]
        statements.remove(statement(t, "MessagesRole", "Traces"))
        self.assertFinds(t, "MessagesFunction: lacks xray:PutTraceSegments on *")

    def test_star_only_for_xray(self):
        t = fresh()
        statement(t, "WelcomeRole", "Traces")["Action"].append("s3:GetObject")
        self.assertFinds(t, "welcome.Traces: resource '*' is not the table")

    def test_failed_records_grant(self):
        t = fresh()
        statement(t, "WelcomeRole", "FailedRecords")["Resource"] = {"Fn::Sub": "${FailedRecordsBucket.Arn}/outbox/*"}
        self.assertFinds(
            t,
            "WelcomeFunction: grants s3:PutObject on objects:FailedRecordsBucket/outbox/*, beyond",
            "WelcomeFunction: lacks s3:PutObject on objects:FailedRecordsBucket/welcome/*",
        )
        t = fresh()
        statement(t, "ProactiveRole", "FailedRecords")["Resource"] = {"Fn::Sub": "${FailedRecordsBucket.Arn}/*"}
        self.assertFinds(t, "proactive.FailedRecords: resource")

    # --- what outlives the stack ----------------------------------------------------------------------------
    def test_table_without_deletion_protection(self):
        t = fresh()
        del props(t, "StateTable")["DeletionProtectionEnabled"]
        self.assertFinds(t, "StateTable: DeletionProtectionEnabled must be true")
        t = fresh()
        del t["Resources"]["StateTable"]["UpdateReplacePolicy"]
        self.assertFinds(t, "StateTable: DeletionPolicy and UpdateReplacePolicy must be Retain")

    def test_secret_not_retained(self):
        for key in ("DeletionPolicy", "UpdateReplacePolicy"):
            with self.subTest(key=key):
                t = fresh()
                del t["Resources"]["AppPasswordSecret"][key]
                self.assertFinds(t, "AppPasswordSecret: DeletionPolicy and UpdateReplacePolicy must be Retain")

    def test_failed_records_bucket(self):
        t = fresh()
        t["Resources"]["FailedRecordsBucket"]["DeletionPolicy"] = "Delete"
        self.assertFinds(t, "FailedRecordsBucket: DeletionPolicy and UpdateReplacePolicy must be Retain")
        t = fresh()
        props(t, "FailedRecordsBucket")["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = False
        self.assertFinds(t, "FailedRecordsBucket: PublicAccessBlockConfiguration must block all public access")
        t = fresh()
        del props(t, "FailedRecordsBucket")["BucketEncryption"]
        self.assertFinds(t, "FailedRecordsBucket: no BucketEncryption")

    def test_failed_records_expire_before_the_queue_forgets(self):
        t = fresh()
        t["Parameters"]["FailedRecordRetentionDays"]["MinValue"] = 7
        self.assertFinds(t, "FailedRecordsBucket: records may expire after 7 days, before the on-failure queues forget them (14 days)")
        t = fresh()
        del props(t, "FailedRecordsBucket")["LifecycleConfiguration"]
        self.assertFinds(t, "FailedRecordsBucket: no lifecycle expiration")
        t = fresh()
        del t["Resources"]["FailedRecordsBucket"], t["Resources"]["FailedRecordsBucketPolicy"]
        self.assertFinds(t, "no failed-records bucket")

    def test_redrive_target_not_an_output(self):
        t = fresh()
        del t["Outputs"]["WelcomeFunctionAliasArn"]
        self.assertFinds(t, "WelcomeFunction: no output naming its `live` alias")
        t = fresh()
        t["Outputs"]["ProactiveFunctionAliasArn"]["Value"] = {"Ref": "ProactiveFunction"}  # $LATEST, not the alias
        self.assertFinds(t, "ProactiveFunction: no output naming its `live` alias")

    def test_failed_records_not_named_to_the_function(self):
        t = fresh()
        del props(t, "WelcomeFunction")["Environment"]["Variables"]["FAILED_RECORDS_BUCKET"]
        self.assertFinds(t, "WelcomeFunction: FAILED_RECORDS_BUCKET must be a Ref to the failed-records bucket")
        t = fresh()
        props(t, "ProactiveFunction")["Environment"]["Variables"]["FAILED_RECORDS_PREFIX"] = "welcome/"
        self.assertFinds(t, "ProactiveFunction: FAILED_RECORDS_PREFIX 'welcome/' is not a prefix it may write")

    def test_log_group_without_retention(self):
        t = fresh()
        del props(t, "ApiAccessLogGroup")["RetentionInDays"]
        self.assertFinds(t, "ApiAccessLogGroup: no RetentionInDays", "BotHttpApi: AccessLogSettings.DestinationArn")

    # --- the endpoint ---------------------------------------------------------------------------------------
    def test_no_access_logs(self):
        t = fresh()
        del props(t, "BotHttpApi")["AccessLogSettings"]
        self.assertFinds(t, "BotHttpApi: AccessLogSettings.DestinationArn", "BotHttpApi: AccessLogSettings.Format")
        t = fresh()
        props(t, "BotHttpApi")["AccessLogSettings"]["Format"] = "$context.requestId $context.status"  # not JSON
        self.assertFinds(t, "BotHttpApi: AccessLogSettings.Format must be one JSON object")
        t = fresh()
        fmt = json.loads(props(t, "BotHttpApi")["AccessLogSettings"]["Format"])
        del fmt["status"]
        props(t, "BotHttpApi")["AccessLogSettings"]["Format"] = json.dumps(fmt)
        self.assertFinds(t, "BotHttpApi: AccessLogSettings.Format must log $context.requestId and $context.status")

    def test_function_url(self):
        t = fresh()
        props(t, "MessagesFunctionUrl")["AuthType"] = "AWS_IAM"  # Teams cannot sign requests
        self.assertFinds(t, "MessagesEndpoint: no AWS::Lambda::Url")
        t = fresh()
        props(t, "MessagesFunctionUrl")["TargetFunctionArn"] = {"Fn::GetAtt": ["MessagesFunction", "Arn"]}  # $LATEST
        self.assertFinds(t, "MessagesEndpoint: no AWS::Lambda::Url")
        t = fresh()
        del t["Resources"]["MessagesFunctionUrl"]["Condition"]
        self.assertFinds(t, "MessagesEndpoint: no AWS::Lambda::Url")
        t = fresh()
        del t["Resources"]["MessagesFunctionUrlInvokePermission"]
        self.assertFinds(t, "MessagesEndpoint: the function URL needs both public grants")
        t = fresh()
        del props(t, "BotHttpApi")["DisableExecuteApiEndpoint"]
        self.assertFinds(t, "BotHttpApi: DisableExecuteApiEndpoint must be on exactly when the function URL")

    def test_public_permission_beyond_the_url(self):
        t = fresh()
        del props(t, "MessagesFunctionUrlInvokePermission")["InvokedViaFunctionUrl"]  # anyone could invoke it
        self.assertFinds(t, "MessagesFunctionUrlInvokePermission: a permission for anyone ('*') must be limited")

    def test_endpoint_output_ignores_the_url(self):
        t = fresh()
        t["Outputs"]["MessagingEndpoint"]["Value"] = t["Outputs"]["MessagingEndpoint"]["Value"]["Fn::If"][2]
        self.assertFinds(t, "Outputs.MessagingEndpoint must follow MessagesEndpoint")
        t = fresh()
        t["Outputs"]["MessagingEndpoint"]["Value"]["Fn::If"][1] = {"Fn::Sub": "${MessagesFunctionUrl.FunctionUrl}"}
        self.assertFinds(t, "Outputs.MessagingEndpoint must be the function URL + api/messages")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import main

    sys.exit(main([__name__]))
