// Welcome on install, through the Agents Playground (issue 7). Runs first (files run in name order against one
// fresh bot): the personal-welcome test needs a user who has not talked to the bot yet.
//
// The playground's install call sends the bot two activities at once: installationUpdate (add) and
// conversationUpdate (membersAdded with the bot). Exactly one welcome must come out of the pair.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Playground, testsFor } from './driver.mjs';

// The reference bot's words: skipped against the minimal bot (PLAYGROUND_BOT=minimal).
const { test, skip } = testsFor('devserver', 'echo');

/** How long we watch for extra messages after the expected one (a bounded wait, not a timing assertion). */
const QUIET_MS = 3_000;

let pg;
before(async () => {
  if (skip) return;
  pg = await Playground.connect();
});
after(() => pg?.close());

const isWelcome = (e) => e.kind === 'create' && e.text.startsWith('Welcome');

test('installing the bot in a team posts exactly one Welcome, in the General channel', async () => {
  const general = pg.generalChannelId;
  const since = pg.mark();
  await pg.install(general);

  const welcome = await pg.waitFor((e) => isWelcome(e) && e.topConversationId === general, {
    since,
    what: `a Welcome in the General channel (${general})`,
  });
  assert.match(welcome.text, /^Welcome/);

  const inGeneral = await pg.collect((e) => e.kind === 'create' && e.topConversationId === general, {
    since,
    ms: QUIET_MS,
  });
  assert.equal(inGeneral.length, 1, `expected only the welcome in General, got:\n${pg.describe(since)}`);
  const elsewhere = await pg.collect(isWelcome, { since });
  assert.equal(elsewhere.length, 1, `expected one Welcome overall, got:\n${pg.describe(since)}`);
});

test('the same team install delivered again posts no second Welcome', async () => {
  const since = pg.mark();
  await pg.install(pg.generalChannelId);
  const welcomes = await pg.collect(isWelcome, { since, ms: QUIET_MS });
  assert.deepEqual(welcomes, [], `expected no Welcome for a duplicate install, got:\n${pg.describe(since)}`);
});

test('a personal install and then the first personal message give exactly one personal Welcome', async () => {
  const chat = pg.personalChatId;
  const since = pg.mark();
  await pg.install(chat);
  await pg.waitFor((e) => isWelcome(e) && e.conversationId === chat, {
    since,
    what: `a Welcome in the personal chat (${chat})`,
  });

  const sent = await pg.sendPersonal('hello');
  await pg.waitForMessage(sent.conversationId, (e) => e.text === 'You sent hello which was 5 characters', {
    since,
  });

  const welcomes = await pg.collect((e) => isWelcome(e) && e.topConversationId === chat, { since, ms: QUIET_MS });
  assert.equal(welcomes.length, 1, `expected one personal Welcome, got:\n${pg.describe(since)}`);
});
