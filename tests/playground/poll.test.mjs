// Polling messages through the Agents Playground and the devserver's POST /api/tick (issue 7).
//
// Assumes what ARCHITECTURE.md describes: `subscribe` is a bot command (answered with a message), a new
// subscription is due at the next tick, the tick posts a poll card, the same tick again (same time slot) posts
// nothing, and answering the card (Action.Submit -> a message activity with `value` and `replyToId`) updates
// that same message in place (PUT), which the playground shows as an `updateMessage` frame.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BotServer, Playground, cardActions, testsFor } from './driver.mjs';

// The reference bot's words: skipped against the minimal bot (PLAYGROUND_BOT=minimal).
const { test, skip } = testsFor('devserver', 'echo');

const QUIET_MS = 3_000;

let pg;
let bot;
before(async () => {
  if (skip) return;
  pg = await Playground.connect();
  bot = new BotServer();
});
after(() => pg?.close());

const hasCard = (e) => e.kind === 'create' && e.cards.length > 0;

/** Sends the card's first submit-like action as the user; returns the updated message event. */
async function answer(poll) {
  const actions = cardActions(poll.cards[0]);
  const submit = actions.find((a) => a.type === 'Action.Submit');
  const execute = actions.find((a) => a.type === 'Action.Execute');
  assert.ok(submit || execute, `the poll card has an answer action: ${JSON.stringify(poll.cards[0])}`);
  const since = pg.mark();
  if (submit) {
    await pg.submit(poll.conversationId, poll.messageId, submit.data ?? {});
    return pg.waitForUpdate(poll.messageId, () => true, { since });
  }
  // Action.Execute: the invoke response carries the refreshed card (the playground does not push a frame).
  const response = await pg.invokeAction(poll.conversationId, poll.messageId, {
    action: { type: 'Action.Execute', verb: execute.verb, data: execute.data ?? {} },
    trigger: 'manual',
  });
  return { kind: 'invoke', cards: [response?.value], message: response };
}

let personalPoll;

test('subscribe in a 1:1 chat, then a tick posts a poll card there', async () => {
  const chat = pg.personalChatId;
  let since = pg.mark();
  await pg.sendPersonal('subscribe');
  const ack = await pg.waitForMessage(chat, () => true, { since, what: 'an answer to subscribe' });
  assert.ok(!ack.text.startsWith('You sent'), `subscribe is a command, not echoed: ${ack.text}`);

  since = pg.mark();
  const tick = await bot.tick();
  assert.equal(tick.status, 200, `POST /api/tick: ${tick.status} ${tick.body}`);
  personalPoll = await pg.waitForMessage(chat, hasCard, { since, what: 'a poll card in the 1:1 chat' });
  assert.equal(personalPoll.fromId, pg.bot.id);
});

test('the same tick again posts nothing new', async () => {
  assert.ok(personalPoll, 'needs the poll from the previous test');
  const since = pg.mark();
  const tick = await bot.tick();
  assert.equal(tick.status, 200, `POST /api/tick: ${tick.status} ${tick.body}`);
  const cards = await pg.collect(hasCard, { since, ms: QUIET_MS });
  assert.deepEqual(cards, [], `expected no second poll in the same slot, got:\n${pg.describe(since)}`);
});

test('answering the poll updates that same message in place', async () => {
  assert.ok(personalPoll, 'needs the poll from the first test');
  const since = pg.mark();
  const updated = await answer(personalPoll);
  if (updated.kind === 'update') {
    assert.equal(updated.messageId, personalPoll.messageId);
    assert.equal(updated.conversationId, personalPoll.conversationId);
  }
  assert.ok(updated.cards.length > 0, 'the updated message is still a card');
  assert.notDeepEqual(updated.cards[0], personalPoll.cards[0], 'the card shows the answer');
  const reposted = await pg.collect(hasCard, { since, ms: 1_000 });
  assert.deepEqual(reposted, [], `an answer must not post a new poll:\n${pg.describe(since)}`);
});

test('subscribe in a channel (bot @mentioned), then a tick posts a poll card in that channel', async () => {
  const channel = pg.generalChannelId;
  let since = pg.mark();
  const sent = await pg.sendChannel('subscribe');
  const ack = await pg.waitForMessage(sent.conversationId, () => true, { since, what: 'an answer to subscribe' });
  assert.ok(!ack.text.startsWith('You sent'), `subscribe is a command, not echoed: ${ack.text}`);

  since = pg.mark();
  const tick = await bot.tick();
  assert.equal(tick.status, 200, `POST /api/tick: ${tick.status} ${tick.body}`);
  const poll = await pg.waitFor((e) => hasCard(e) && e.topConversationId === channel, {
    since,
    what: `a poll card in the channel ${channel}`,
  });
  const updated = await answer(poll);
  if (updated.kind === 'update') {
    assert.equal(updated.messageId, poll.messageId);
    assert.equal(updated.conversationId, poll.conversationId);
  }
  assert.notDeepEqual(updated.cards[0], poll.cards[0], 'the card shows the answer');
});
