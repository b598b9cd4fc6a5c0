// The inbound path end to end through the Agents Playground (issue 6): what a Teams user sees the bot answer.
// The bot's words are docs/contract.md's ("The reference bot's words").

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Playground, testsFor, unsupportedByEchoBot } from './driver.mjs';

// The reference bot's words: skipped against the minimal bot (PLAYGROUND_BOT=minimal).
const { test, skip } = testsFor('devserver', 'echo');

/** How long we watch for a message that must not come (a bounded wait, not a timing assertion). */
const QUIET_MS = 3_000;

let pg;
before(async () => {
  if (skip) return;
  pg = await Playground.connect();
});
after(() => pg?.close());

test('a personal message gets the echo with its character count', async () => {
  const since = pg.mark();
  const sent = await pg.sendPersonal('hello');
  const reply = await pg.waitForMessage(sent.conversationId, (e) => e.text.startsWith('You sent'), { since });
  assert.equal(reply.text, 'You sent hello which was 5 characters');
  assert.equal(reply.fromId, pg.bot.id);
});

test('the echo counts Unicode scalar values, not bytes or UTF-16 units', async () => {
  const since = pg.mark();
  const sent = await pg.sendPersonal('héllo 👋');
  const reply = await pg.waitForMessage(sent.conversationId, (e) => e.text.startsWith('You sent'), { since });
  assert.equal(reply.text, 'You sent héllo 👋 which was 7 characters');
});

test('help lists the commands', { skip: unsupportedByEchoBot('help') }, async () => {
  const since = pg.mark();
  const sent = await pg.sendPersonal('help');
  const reply = await pg.waitForMessage(sent.conversationId, () => true, { since });
  for (const command of ['help', 'whoami', 'members']) {
    assert.ok(reply.content.includes(command), `help should mention ${command}: ${reply.content}`);
  }
  assert.ok(!reply.text.startsWith('You sent'), 'help must not fall back to echo');
});

test('whoami names the user and the tenant', { skip: unsupportedByEchoBot('whoami') }, async () => {
  const since = pg.mark();
  const sent = await pg.sendPersonal('whoami');
  const reply = await pg.waitForMessage(sent.conversationId, () => true, { since });
  assert.ok(reply.content.includes(pg.me.id), `whoami should show the user id ${pg.me.id}: ${reply.content}`);
  assert.ok(reply.content.includes(pg.config.tenantId), `whoami should show the tenant: ${reply.content}`);
});

test('a channel message with the bot @mentioned gets the echo, mention stripped, in its thread', async () => {
  const since = pg.mark();
  const sent = await pg.sendChannel('hi there');
  assert.ok(sent.postConversationId, 'a channel message starts a thread');
  const reply = await pg.waitForMessage(sent.conversationId, (e) => e.text.startsWith('You sent'), { since });
  assert.equal(reply.text, 'You sent hi there which was 8 characters');
});

test('a group chat message with the bot @mentioned gets the echo, mention stripped', async () => {
  const since = pg.mark();
  const sent = await pg.sendGroupChat('hi group');
  const reply = await pg.waitForMessage(sent.conversationId, (e) => e.text.startsWith('You sent'), { since });
  assert.equal(reply.text, 'You sent hi group which was 8 characters');
});

test('a channel message without the mention gets no answer', async () => {
  // The playground's own client never calls the bot for an unmentioned channel message, so deliver one directly.
  const channel = pg.generalChannelId;
  const template = await pg.customActivityTemplate(channel);
  const activity = {
    ...template,
    type: 'message',
    text: 'talking among ourselves',
    textFormat: 'plain',
    channelData: { tenant: { id: pg.config.tenantId }, team: { id: pg.team.id }, channel: { id: channel } },
  };
  const since = pg.mark();
  await pg.sendCustomActivity(activity);
  const answers = await pg.collect((e) => e.kind === 'create' && e.topConversationId === channel, {
    since,
    ms: QUIET_MS,
  });
  assert.deepEqual(answers, [], `expected silence in the channel, got:\n${pg.describe(since)}`);
});

test('members in a channel answers with the roster', async () => {
  const roster = await pg.roster(pg.generalChannelId);
  const names = roster.map((m) => m.name);
  assert.ok(names.length > 0, 'the playground roster is not empty');
  assert.deepEqual([...names].sort(), [...pg.teamMemberNames].sort(), 'playground roster = configured team');

  const since = pg.mark();
  const sent = await pg.sendChannel('members');
  const reply = await pg.waitForMessage(sent.conversationId, () => true, { since });
  for (const name of names) {
    assert.ok(reply.content.includes(name), `the roster answer should name ${name}: ${reply.content}`);
  }
});

test('update: the bot edits its own message in place (PUT)', { skip: unsupportedByEchoBot('update') }, async () => {
  const since = pg.mark();
  const sent = await pg.sendPersonal('update');
  const first = await pg.waitForMessage(sent.conversationId, () => true, { since });
  const edited = await pg.waitForUpdate(first.messageId, () => true, { since });
  assert.equal(edited.conversationId, first.conversationId);
  assert.notEqual(edited.text, first.text, 'the edit changes the text');
});
