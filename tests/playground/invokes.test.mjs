// Invokes with answers through the Agents Playground (issue 18): a Universal Action that answers a refreshed card
// (the poll card's `refresh`, an `adaptiveCard/action` invoke) and the `search` message extension
// (`composeExtension/query`). The playground (0.2.28) cannot send the other invokes of the issue: its invoke API
// accepts only adaptiveCard/action, message/submitAction and the composeExtension query/link/action names, and its
// web client lists "Task module (task/fetch)" among the Adaptive Card features it does not support. Dialogs
// (task/fetch, task/submit) and picking a search result (composeExtension/selectItem) are tested through the
// runtime instead (shared/reference-bot/tests/invokes.rs, shared/service/tests/invokes.rs).

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { BotServer, Playground, testsFor } from './driver.mjs';

// The reference bot's invokes: skipped against the minimal bot and the echo self-check bot.
const { test, skip } = testsFor('devserver');

const CARD = 'application/vnd.microsoft.card.adaptive';
const HERO = 'application/vnd.microsoft.card.hero';
const PLAYGROUND_CANNOT =
  'the Agents Playground 0.2.28 cannot send task/fetch, task/submit or composeExtension/selectItem (its invoke API ' +
  'refuses those names); tested in shared/reference-bot/tests/invokes.rs';

let pg;
let bot;
before(async () => {
  if (skip) return;
  pg = await Playground.connect();
  bot = new BotServer();
});
after(() => pg?.close());

test('the poll card refreshes to the stored tally (adaptiveCard/action, Universal Actions)', async () => {
  // A poll in the group chat, posted by the tick (the 1:1 chat's poll belongs to poll.test.mjs).
  const chat = pg.groupChatId;
  let since = pg.mark();
  await pg.sendGroupChat('subscribe');
  await pg.waitForMessage(chat, () => true, { since, what: 'an answer to subscribe' });
  since = pg.mark();
  const tick = await bot.tick();
  assert.equal(tick.status, 200, `POST /api/tick: ${tick.status} ${tick.body}`);
  const poll = await pg.waitForMessage(chat, (e) => e.cards.length > 0, { since, what: 'a poll card' });
  const card = poll.cards[0];
  const refresh = card.refresh?.action;
  assert.equal(refresh?.type, 'Action.Execute', `the poll card has a refresh action: ${JSON.stringify(card)}`);

  // Answer the poll (an Action.Submit), then ask for the refresh as Teams does when it shows the card.
  const choice = card.actions.find((a) => a.type === 'Action.Submit');
  since = pg.mark();
  await pg.submit(poll.conversationId, poll.messageId, choice.data);
  await pg.waitForUpdate(poll.messageId, () => true, { since });
  const answer = await pg.invokeAction(poll.conversationId, poll.messageId, {
    action: { type: 'Action.Execute', verb: refresh.verb, data: refresh.data },
    trigger: 'automatic',
  });
  assert.equal(answer.type, CARD, `a refreshed card: ${JSON.stringify(answer)}`);
  assert.equal(answer.value.body[0].text, card.body[0].text, 'the same poll');
  assert.equal(answer.value.body[2].text, '1 answer so far', 'with the answer counted');
  assert.deepEqual(answer.value.refresh.userIds, [pg.me.id], 'refreshed automatically for who answered');
});

test('the search message extension lists matching commands with hero card previews (composeExtension/query)', async () => {
  const since = pg.mark();
  const answer = await pg.invokeSearch(pg.personalChatId, {
    commandId: 'search',
    parameters: [{ name: 'query', value: 'poll' }],
    queryOptions: { skip: 0, count: 25 },
  });
  const result = answer.composeExtension;
  assert.equal(result?.type, 'result', `a result list: ${JSON.stringify(answer)}`);
  assert.equal(result.attachmentLayout, 'list');
  assert.deepEqual(
    result.attachments.map((a) => a.content.title),
    ['subscribe [minutes]', 'unsubscribe'],
  );
  for (const attachment of result.attachments) {
    assert.equal(attachment.contentType, HERO);
    assert.equal(attachment.preview.contentType, HERO);
    assert.deepEqual(attachment.preview.content.tap, {
      type: 'invoke',
      value: { command: attachment.content.title },
    });
  }
  // Teams' default query as the extension opens: every command.
  const initial = await pg.invokeSearch(pg.personalChatId, {
    commandId: 'search',
    parameters: [{ name: 'initialRun', value: 'true' }],
    queryOptions: { skip: 0, count: 25 },
  });
  assert.ok(initial.composeExtension.attachments.length >= 13, JSON.stringify(initial));
  const posted = await pg.collect((e) => e.kind === 'create', { since, ms: 1_000 });
  assert.deepEqual(posted, [], `a search answers the invoke and posts nothing:\n${pg.describe(since)}`);
});

test('a dialog opens and answers its submit (task/fetch, task/submit)', { skip: PLAYGROUND_CANNOT }, () => {});

test('a picked search result inserts its card (composeExtension/selectItem)', { skip: PLAYGROUND_CANNOT }, () => {});
