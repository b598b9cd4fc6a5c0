"""The Teams app package: manifest.json against Microsoft's published JSON schema (from the npm package
@microsoft/app-manifest, unpacked by infra/check into $TEAMS_SCHEMA_DIR), the icons' sizes and colours, the
reference bot's commands and its search message extension, and what infra/package-app produces."""

from __future__ import annotations

import copy
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import unittest
import zipfile
import zlib
from pathlib import Path

import jsonschema

INFRA = Path(__file__).resolve().parent.parent
PKG = INFRA / "appPackage"
MANIFEST = json.loads((PKG / "manifest.json").read_text())
SCHEMA_DIR = os.environ.get("TEAMS_SCHEMA_DIR", "")

# docs/contract.md / the reference bot's commands.
COMMANDS = {
    "help", "whoami", "card", "picture", "update", "delete", "task", "dm me", "new thread", "members", "subscribe",
    "unsubscribe", "role", "file",
}
# The reference bot's search message extension: the command id it answers (shared/reference-bot/src/search.rs).
SEARCH_RS = INFRA.parent / "shared" / "reference-bot" / "src" / "search.rs"


def search_command_id() -> str:
    match = re.search(r'pub const SEARCH_COMMAND: &str = "([^"]+)";', SEARCH_RS.read_text())
    if match is None:
        raise AssertionError(f"no SEARCH_COMMAND in {SEARCH_RS}")
    return match.group(1)


def decode_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """Width, height and RGBA rows of an 8-bit RGBA, non-interlaced PNG (what Teams icons should be)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if ihdr is None:
        raise ValueError("no IHDR")
    w, h, depth, color, _, _, interlace = ihdr
    if (depth, color, interlace) != (8, 6, 0):
        raise ValueError(f"expected 8-bit RGBA non-interlaced, got depth {depth} colour type {color}")
    raw, stride, rows, prev = zlib.decompress(idat), w * 4, [], bytearray(w * 4)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b, c = prev[i], prev[i - 4] if i >= 4 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * 4 : x * 4 + 4]) for x in range(w)])
        prev = line
    return w, h, rows


def schema_versions() -> list[str]:
    return sorted(
        (p.name[1:] for p in Path(SCHEMA_DIR).iterdir() if re.fullmatch(r"v1\.\d+", p.name)),
        key=lambda v: tuple(int(x) for x in v.split(".")),
    )


def schema_errors(manifest: dict) -> list[str]:
    path = Path(SCHEMA_DIR) / f"v{manifest.get('manifestVersion')}" / "MicrosoftTeams.schema.json"
    if not path.is_file():
        return [f"no published schema for manifestVersion {manifest.get('manifestVersion')!r}"]
    validator = jsonschema.Draft4Validator(json.loads(path.read_text()))
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(manifest)]


@unittest.skipUnless(SCHEMA_DIR or os.environ.get("REQUIRE_REAL_SERVICES") == "1", "skipped: TEAMS_SCHEMA_DIR unset")
class Schema(unittest.TestCase):
    def setUp(self):
        self.assertTrue(Path(SCHEMA_DIR).is_dir(), f"TEAMS_SCHEMA_DIR={SCHEMA_DIR!r} is not a directory")

    def test_manifest_is_valid(self):
        self.assertEqual(schema_errors(MANIFEST), [])

    def test_manifest_is_on_the_newest_published_version(self):
        newest = schema_versions()[-1]
        self.assertEqual(MANIFEST["manifestVersion"], newest)
        self.assertEqual(
            MANIFEST["$schema"], f"https://developer.microsoft.com/json-schemas/teams/v{newest}/MicrosoftTeams.schema.json"
        )

    def test_schema_catches_a_misspelt_bot_property(self):  # proves the validation can fail
        m = copy.deepcopy(MANIFEST)
        m["bots"][0]["botID"] = m["bots"][0].pop("botId")
        self.assertTrue(any("botID" in e or "botId" in e for e in schema_errors(m)), schema_errors(m))

    def test_schema_catches_a_bad_scope_and_a_long_name(self):
        m = copy.deepcopy(MANIFEST)
        m["bots"][0]["scopes"] = ["personal", "channel"]
        m["name"]["short"] = "x" * 31
        errs = schema_errors(m)
        self.assertTrue(any("channel" in e for e in errs), errs)
        self.assertTrue(any("name.short" in e for e in errs), errs)

    def test_schema_catches_a_bad_search_command(self):  # the extension is validated too
        m = copy.deepcopy(MANIFEST)
        command = m["composeExtensions"][0]["commands"][0]
        command["type"] = "search"
        command["parameters"][0]["inputType"] = "query"
        errs = schema_errors(m)
        self.assertTrue(any("'search'" in e for e in errs), errs)
        self.assertTrue(any("'query'" in e for e in errs), errs)

    def test_packaged_manifest_is_valid(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "app.zip"
            app_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
            subprocess.run([sys.executable, str(INFRA / "package-app"), app_id, "--out", str(out)], check=True, capture_output=True)
            with zipfile.ZipFile(out) as z:
                self.assertEqual(sorted(z.namelist()), ["color.png", "manifest.json", "outline.png"])
                packaged = json.loads(z.read("manifest.json"))
                self.assertEqual(z.read("color.png"), (PKG / "color.png").read_bytes())
        self.assertEqual(packaged["id"], app_id)
        self.assertEqual(packaged["bots"][0]["botId"], app_id)
        self.assertEqual(packaged["composeExtensions"][0]["botId"], app_id)
        self.assertEqual(schema_errors(packaged), [])


class Package(unittest.TestCase):
    def test_bot_scopes(self):
        self.assertEqual(len(MANIFEST["bots"]), 1)
        self.assertEqual(set(MANIFEST["bots"][0]["scopes"]), {"personal", "team", "groupChat"})

    def test_commands_are_the_reference_bots(self):
        lists = MANIFEST["bots"][0]["commandLists"]
        titles = {c["title"] for cl in lists for c in cl["commands"]}
        self.assertEqual(titles, COMMANDS)
        scopes = {s for cl in lists for s in cl["scopes"]}
        self.assertEqual(scopes, {"personal", "team", "groupChat"})
        for cl in lists:
            self.assertIn("help", {c["title"] for c in cl["commands"]}, cl["scopes"])

    def test_task_opens_the_dialog_in_every_scope(self):
        for cl in MANIFEST["bots"][0]["commandLists"]:
            self.assertIn("task", {c["title"] for c in cl["commands"]}, cl["scopes"])

    def test_search_extension_is_the_bots_query_command(self):
        extensions = MANIFEST["composeExtensions"]
        self.assertEqual(len(extensions), 1)
        extension = extensions[0]
        # Powered by the bot itself (botBased is the default type): package-app sets both ids alike.
        self.assertEqual(extension["botId"], MANIFEST["bots"][0]["botId"])
        self.assertEqual(extension.get("composeExtensionType", "botBased"), "botBased")
        self.assertEqual(len(extension["commands"]), 1)
        command = extension["commands"][0]
        self.assertEqual(command["id"], search_command_id())
        self.assertEqual(command["type"], "query")
        # Teams sends a default query as the extension opens; the bot answers it with every command.
        self.assertIs(command["initialRun"], True)
        self.assertEqual([(p["name"], p["inputType"]) for p in command["parameters"]], [("query", "text")])
        self.assertNotIn("fetchTask", command)

    def test_search_command_id_is_read_from_the_bot(self):  # the id check can fail
        self.assertEqual(search_command_id(), "search")
        self.assertNotEqual(search_command_id(), "searchCmd")

    def test_package_app_sets_every_bot_id(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "app.zip"
            app_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
            subprocess.run([sys.executable, str(INFRA / "package-app"), app_id, "--out", str(out)], check=True, capture_output=True)
            with zipfile.ZipFile(out) as z:
                packaged = json.loads(z.read("manifest.json"))
        self.assertEqual({p["botId"] for p in packaged["bots"] + packaged["composeExtensions"]}, {app_id})
        self.assertEqual(packaged["webApplicationInfo"]["id"], app_id)
        self.assertEqual(MANIFEST["composeExtensions"][0]["botId"], "00000000-0000-0000-0000-000000000000")

    def test_meeting_events_have_their_resource_specific_permissions(self):
        # msteams-docs apps-in-teams-meetings/meeting-apps-apis.md: meeting start/end events and the meeting
        # details need OnlineMeeting.ReadBasic.Chat (channel meetings: ChannelMeeting.ReadBasic.Group), the
        # participant events OnlineMeetingParticipant.Read.Chat; granted to the bot's app id (webApplicationInfo).
        rsc = {(p["name"], p["type"]) for p in MANIFEST["authorization"]["permissions"]["resourceSpecific"]}
        self.assertEqual(rsc, {
            ("OnlineMeeting.ReadBasic.Chat", "Application"),
            ("ChannelMeeting.ReadBasic.Group", "Application"),
            ("OnlineMeetingParticipant.Read.Chat", "Application"),
        })
        self.assertEqual(MANIFEST["webApplicationInfo"]["id"], MANIFEST["bots"][0]["botId"])
        self.assertEqual(MANIFEST["webApplicationInfo"]["resource"], "https://RscPermission")

    def test_files_are_offered_in_personal_chats_only(self):  # Teams' file consent flow is 1:1 only
        self.assertIs(MANIFEST["bots"][0]["supportsFiles"], True)
        scopes = {s for cl in MANIFEST["bots"][0]["commandLists"] for s in cl["scopes"]
                  if "file" in {c["title"] for c in cl["commands"]}}
        self.assertEqual(scopes, {"personal"})

    def test_role_is_a_group_chat_command(self):  # meeting chats are group chats
        scopes = {s for cl in MANIFEST["bots"][0]["commandLists"] for s in cl["scopes"]
                  if "role" in {c["title"] for c in cl["commands"]}}
        self.assertEqual(scopes, {"groupChat"})

    def test_color_icon_is_192_opaque(self):
        w, h, rows = decode_png((PKG / MANIFEST["icons"]["color"]).read_bytes())
        self.assertEqual((w, h), (192, 192))
        self.assertTrue(all(px[3] == 255 for row in rows for px in row), "colour icon must be opaque")

    def test_outline_icon_is_32_white_on_transparent(self):
        w, h, rows = decode_png((PKG / MANIFEST["icons"]["outline"]).read_bytes())
        self.assertEqual((w, h), (32, 32))
        pixels = [px for row in rows for px in row]
        self.assertTrue(all(px[3] == 0 or px[:3] == (255, 255, 255) for px in pixels), "outline must be white")
        self.assertTrue(any(px[3] == 0 for px in pixels) and any(px[3] > 0 for px in pixels))

    def test_png_decoder_rejects_wrong_size_icon(self):  # the size check can fail
        sys.path.insert(0, str(PKG))
        import make_icons

        w, h, _ = decode_png(make_icons.png(48, 40, lambda x, y: (1, 2, 3, 255)))
        self.assertEqual((w, h), (48, 40))
        self.assertNotEqual((w, h), (192, 192))

    def test_committed_icons_match_the_script(self):
        sys.path.insert(0, str(PKG))
        import make_icons

        # Compare pixels, not bytes (another zlib may compress differently).
        for name, size, pixel in (("color.png", 192, make_icons.color_pixel), ("outline.png", 32, make_icons.outline_pixel)):
            self.assertEqual(decode_png(make_icons.png(size, size, pixel)), decode_png((PKG / name).read_bytes()), name)

    def test_package_app_refuses_a_missing_app_id(self):
        env = {k: v for k, v in os.environ.items() if k != "MICROSOFT_APP_ID"}
        r = subprocess.run([sys.executable, str(INFRA / "package-app")], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("app id", r.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import main

    sys.exit(main([__name__]))
