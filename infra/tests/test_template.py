"""Tests for infra/template.yaml with our own rules (template_rules.py), and proof that each rule can fail:
every mutation below breaks the real template in one way and must produce the matching finding."""

from __future__ import annotations

import copy
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import template_rules as rules  # noqa: E402

INFRA = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = INFRA / "template.yaml"
TEMPLATE = rules.load(TEMPLATE_PATH)


def fresh() -> dict:
    return copy.deepcopy(TEMPLATE)


def res(t: dict, name: str) -> dict:
    return t["Resources"][name]


def props(t: dict, name: str) -> dict:
    return t["Resources"][name]["Properties"]


def statements(t: dict, role: str) -> list:
    return props(t, role)["Policies"][0]["PolicyDocument"]["Statement"]


def statement(t: dict, role: str, sid: str) -> dict:
    return next(s for s in statements(t, role) if s.get("Sid") == sid)


class RealTemplate(unittest.TestCase):
    def test_our_rules_find_nothing(self):
        self.assertEqual(rules.findings(TEMPLATE, INFRA), [])

    def test_sam_transform_has_no_wildcard_grants(self):
        self.assertEqual(rules.transformed_findings(TEMPLATE), [])

    def test_expected_grants_cover_every_function(self):
        fns = set(rules._resources_of(TEMPLATE, "AWS::Serverless::Function"))
        self.assertEqual(fns, set(rules.EXPECTED_GRANTS))

    def test_no_function_may_scan_or_administer_the_table(self):
        for fn, grants in rules.EXPECTED_GRANTS.items():
            actions = {a for a, _ in grants}
            for forbidden in ("dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:BatchWriteItem"):
                self.assertNotIn(forbidden, actions, fn)


class Mutation(unittest.TestCase):
    """Each rule fails when it should: a one-change copy of the template yields the named finding."""

    def assertFinds(self, t: dict, *needles: str):
        found = rules.findings(t, INFRA)
        for needle in needles:
            self.assertTrue(any(needle in f for f in found), f"no finding containing {needle!r} in {found!r}")

    def test_unknown_runtime(self):
        t = fresh()
        t["Globals"]["Function"]["Runtime"] = "provided.al2033"
        self.assertFinds(t, "runtime 'provided.al2033'")

    def test_function_level_runtime_override(self):
        t = fresh()
        props(t, "WelcomeFunction")["Runtime"] = "nodejs22.x"
        self.assertFinds(t, "WelcomeFunction: runtime 'nodejs22.x'")

    def test_x86_architecture(self):
        t = fresh()
        props(t, "MessagesFunction")["Architectures"] = ["x86_64"]
        self.assertFinds(t, "MessagesFunction: Architectures")

    def test_wrong_binary_name(self):
        t = fresh()
        res(t, "ProactiveFunction")["Metadata"]["BuildProperties"]["Binary"] = "proactiv"
        self.assertFinds(t, "BuildProperties.Binary 'proactiv'")

    def test_code_uri_not_a_crate(self):
        t = fresh()
        props(t, "MessagesFunction")["CodeUri"] = "../functions/nope"
        self.assertFinds(t, "MessagesFunction: CodeUri")

    def test_misspelt_event_property(self):
        t = fresh()
        p = props(t, "WelcomeFunction")["Events"]["Claims"]["Properties"]
        p["BisectBatchOnFunctionErorr"] = p.pop("BisectBatchOnFunctionError")
        self.assertFinds(t, "unknown property 'BisectBatchOnFunctionErorr'", "BisectBatchOnFunctionError is not true")

    def test_misspelt_nested_event_property(self):
        t = fresh()
        d = props(t, "WelcomeFunction")["Events"]["Claims"]["Properties"]["DestinationConfig"]
        d["OnFailur"] = d.pop("OnFailure")
        self.assertFinds(t, "unknown property 'OnFailur'", "no on-failure SQS destination")

    def test_misspelt_schedule_retry_policy(self):
        t = fresh()
        rp = props(t, "ProactiveFunction")["Events"]["Poll"]["Properties"]["RetryPolicy"]
        rp["MaximumRetryAttempt"] = rp.pop("MaximumRetryAttempts")
        self.assertFinds(t, "unknown property 'MaximumRetryAttempt'", "needs a RetryPolicy")

    def test_unknown_event_type(self):
        t = fresh()
        props(t, "ProactiveFunction")["Events"]["Poll"]["Type"] = "Schedulev2"
        self.assertFinds(t, "event type 'Schedulev2' is not one we use")

    def test_dangling_ref_in_globals(self):  # cfn-lint 1.58 misses this one
        t = fresh()
        t["Globals"]["Function"]["Environment"]["Variables"]["TABLE_NAME"] = {"Ref": "StateTabel"}
        self.assertFinds(t, "dangling reference to 'StateTabel'")

    def test_dangling_getatt_attribute(self):
        t = fresh()
        statement(t, "WelcomeRole", "Stream")["Resource"] = {"Fn::GetAtt": ["StateTable", "StreamArm"]}
        self.assertFinds(t, "has no attribute 'StreamArm'")

    def test_dangling_sub_variable(self):
        t = fresh()
        t["Outputs"]["MessagingEndpoint"]["Value"] = {"Fn::Sub": "https://${BotHttpAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/messages"}
        self.assertFinds(t, "dangling reference to 'BotHttpAPI'")

    def test_dangling_sub_getatt(self):
        t = fresh()
        statement(t, "MessagesRole", "State")["Resource"][1] = {"Fn::Sub": "${StateTabl.Arn}/index/gsi1"}
        self.assertFinds(t, "dangling GetAtt to StateTabl.Arn")

    def test_undeclared_condition(self):
        t = fresh()
        props(t, "MessagesErrorsAlarm")["AlarmActions"][1]["Fn::If"][0] = "HasTopic"
        self.assertFinds(t, "undeclared condition 'HasTopic'")

    def test_extra_action(self):
        t = fresh()
        statement(t, "MessagesRole", "State")["Action"].append("dynamodb:Scan")
        self.assertFinds(t, "MessagesFunction: grants dynamodb:Scan on table")

    def test_missing_action(self):
        t = fresh()
        statement(t, "WelcomeRole", "Stream")["Action"].remove("dynamodb:GetRecords")
        self.assertFinds(t, "WelcomeFunction: lacks dynamodb:GetRecords on stream")

    def test_wildcard_action(self):
        t = fresh()
        statement(t, "ProactiveRole", "State")["Action"] = "dynamodb:*"
        self.assertFinds(t, "wildcard or non-literal action 'dynamodb:*'")

    def test_wildcard_resource(self):
        t = fresh()
        statement(t, "ProactiveRole", "AppSecret")["Resource"] = "*"
        self.assertFinds(t, "resource '*' is not the table")

    def test_another_functions_queue(self):
        t = fresh()
        statement(t, "WelcomeRole", "OnFailure")["Resource"] = {"Fn::GetAtt": ["OutboxFailureQueue", "Arn"]}
        self.assertFinds(t, "WelcomeFunction: grants sqs:SendMessage on queue:OutboxFailureQueue")

    def test_managed_policy(self):
        t = fresh()
        props(t, "MessagesRole")["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"]
        self.assertFinds(t, "ManagedPolicyArns is not allowed")

    def test_sam_policy_templates(self):
        t = fresh()
        props(t, "MessagesFunction")["Policies"] = [{"DynamoDBCrudPolicy": {"TableName": {"Ref": "StateTable"}}}]
        self.assertFinds(t, "MessagesFunction: must use its own Role")

    def test_transform_catches_sam_generated_wildcards(self):
        t = fresh()
        p = props(t, "MessagesFunction")
        del p["Role"]
        p["Policies"] = [{"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}]
        found = rules.transformed_findings(t)
        self.assertTrue(any("wildcard action 'dynamodb:*'" in f for f in found), found)

    def test_stream_filter_missing(self):
        t = fresh()
        del props(t, "WelcomeFunction")["Events"]["Claims"]["Properties"]["FilterCriteria"]
        self.assertFinds(t, "expected exactly one filter")

    def test_stream_filter_wrong_kind(self):
        t = fresh()
        f = props(t, "ProactiveFunction")["Events"]["Outbox"]["Properties"]["FilterCriteria"]["Filters"][0]
        f["Pattern"] = f["Pattern"].replace('"outbox"', '"team-install"')
        self.assertFinds(t, "filter kinds ['team-install']")

    def test_stream_filter_modify_events(self):
        t = fresh()
        f = props(t, "WelcomeFunction")["Events"]["Claims"]["Properties"]["FilterCriteria"]["Filters"][0]
        f["Pattern"] = f["Pattern"].replace('["INSERT"]', '["INSERT","MODIFY"]')
        self.assertFinds(t, "eventName INSERT only")

    def test_unbounded_retries(self):
        t = fresh()
        props(t, "WelcomeFunction")["Events"]["Claims"]["Properties"]["MaximumRetryAttempts"] = -1
        self.assertFinds(t, "MaximumRetryAttempts must be bounded")

    def test_schedule_without_dlq(self):
        t = fresh()
        del props(t, "ProactiveFunction")["Events"]["Poll"]["Properties"]["DeadLetterConfig"]
        self.assertFinds(t, "needs DeadLetterConfig.Arn")

    def test_schedule_without_input(self):
        t = fresh()
        del props(t, "ProactiveFunction")["Events"]["Poll"]["Properties"]["Input"]
        self.assertFinds(t, "Input must be")
        t = fresh()
        props(t, "ProactiveFunction")["Events"]["Poll"]["Properties"]["Input"] = "{}"
        self.assertFinds(t, "Input must be")

    def test_single_tenant_without_tenant_allowed(self):
        t = fresh()
        del t["Rules"]
        self.assertFinds(t, "must require a non-empty MicrosoftAppTenantId")
        t = fresh()
        t["Rules"]["SingleTenantNeedsItsTenant"]["RuleCondition"] = {"Fn::Equals": [{"Ref": "MicrosoftAppType"}, "MultiTenant"]}
        self.assertFinds(t, "must require a non-empty MicrosoftAppTenantId")

    def test_plain_secret(self):
        t = fresh()
        t["Parameters"]["MicrosoftAppPassword"] = {"Type": "String", "NoEcho": True}
        props(t, "WelcomeFunction")["Environment"]["Variables"]["MICROSOFT_APP_PASSWORD"] = {"Ref": "MicrosoftAppPassword"}
        self.assertFinds(t, "secrets come from Secrets Manager", "MICROSOFT_APP_PASSWORD must not be an environment value")

    def test_log_retention_missing(self):
        t = fresh()
        del props(t, "WelcomeLogGroup")["RetentionInDays"]
        self.assertFinds(t, "WelcomeFunction: LoggingConfig.LogGroup is not a log group with RetentionInDays")

    def test_table_shape(self):
        t = fresh()
        props(t, "StateTable")["StreamSpecification"]["StreamViewType"] = "NEW_IMAGE"
        del props(t, "StateTable")["PointInTimeRecoverySpecification"]
        self.assertFinds(t, "StateTable.StreamSpecification", "StateTable.PointInTimeRecoverySpecification")

    def test_missing_alarms(self):
        t = fresh()
        del t["Resources"]["ProactiveErrorsAlarm"]
        del t["Resources"]["PollDeadLetterAlarm"]
        self.assertFinds(t, "ProactiveFunction: no Errors alarm", "PollDeadLetterQueue: no queue depth alarm")

    def test_endpoint_output(self):
        t = fresh()
        t["Outputs"]["MessagingEndpoint"]["Value"] = {"Fn::Sub": "https://${BotHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"}
        self.assertFinds(t, "Outputs.MessagingEndpoint")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import main

    sys.exit(main([__name__]))
