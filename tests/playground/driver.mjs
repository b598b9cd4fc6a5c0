// A driver for Microsoft's local Teams emulator, the Agents Playground
// (npm @microsoft/m365agentsplayground, pinned in tests/playground/run).
//
// It talks to the playground only through the HTTP API and the websocket its web client uses
// (shapes read from the package's bundled server code, dist/index.js, version 0.2.28):
//
//   GET  /_internal/v1/config                          the mocked tenant: bot, current user, users, chats, team
//                                                      (first waits, up to 15 s, for the bot endpoint to answer)
//   POST /_conversation/v1/conversations/{id}/messages  a user message: {from:{id}, text, textFormat,
//                                                      mentions?:[{mentioned:{id}, text:"<at>Name</at>"}]}
//                                                      -> {messageId, postConversationId?, timestamp}.
//                                                      The playground calls the bot only in the personal chat or
//                                                      when the bot is in `mentions`; in a channel the message
//                                                      starts a new thread "<channel>;messageid=<messageId>".
//   POST /_conversation/v1/submit                      a card Action.Submit: {conversation:{id}, from:{id},
//                                                      replyToId, value:{...}} -> message activity with `value`
//   POST /_conversation/v1/invoke                      an invoke: adaptiveCard/action (Action.Execute, on a message
//                                                      `replyToId`) -> {type, value}; composeExtension/query (also
//                                                      queryLink, anonymousQueryLink, fetchTask, submitAction) ->
//                                                      {task, composeExtension}. Any other name is refused (400):
//                                                      no task/fetch, task/submit or composeExtension/selectItem
//   GET  /_internal/v1/customActivities/template?conversationId=..[&type=install|botAdded|..]
//   POST /_internal/v1/customActivities                any activity, sent to the bot as is
//   POST /_debug/conversation/{id}/installation        "install the bot here": sends installationUpdate (add)
//                                                      AND conversationUpdate (membersAdded incl. the bot),
//                                                      concurrently, to the bot
//   GET  /_connector/v3/conversations/{id}/members      the mocked connector's roster (what the bot sees)
//   WS   /_ws_conversation/v1/conversations/stream     what the bot posted: JSON frames
//        {action:"createMessage", actionConversationId, message:{messageId, from:{id}, text, attachments, ...,
//         postConversationId?}}, {action:"updateMessage", actionConversationId, message},
//        {action:"typing", actionConversationId}. Frames sent while no client is connected are buffered and
//        flushed to the next client. DELETE of an activity is not implemented by the playground (501), so
//        deletes produce no frame.
//
// Node 20 has no global WebSocket without --experimental-websocket (the run script sets it).

import { readFileSync } from 'node:fs';
import { test as nodeTest } from 'node:test';

const DEFAULT_TIMEOUT_MS = 10_000;

/** Error raised when a bounded wait ends without a match. */
export class WaitTimeout extends Error {}

/** A message the bot posted or updated, as seen on the playground's websocket. */
export class BotEvent {
  constructor(seq, frame) {
    this.seq = seq;
    /** "create" | "update" | "typing" | the raw action name */
    this.kind = { createMessage: 'create', updateMessage: 'update', typing: 'typing' }[frame.action] ?? frame.action;
    this.frame = frame;
    const message = frame.message ?? {};
    this.message = message;
    this.messageId = message.messageId;
    /** The conversation the message is in: a channel thread "<channel>;messageid=<root>", a chat id. */
    this.conversationId = message.postConversationId ?? frame.actionConversationId;
    /** The conversation without its thread part: the channel id, or the chat id. */
    this.topConversationId = String(this.conversationId ?? '').split(';')[0];
    /** True when the message is the root of a new channel thread (the bot started a thread). */
    this.startsThread = message.postConversationId !== undefined;
    this.text = message.text ?? '';
    this.attachments = message.attachments ?? [];
    this.fromId = message.from?.id;
  }

  /** Everything a user would read: the text and the attachments' JSON (for "mentions X" checks). */
  get content() {
    return `${this.text}\n${JSON.stringify(this.attachments)}`;
  }

  /** The adaptive cards in this message (their `content`). */
  get cards() {
    return this.attachments
      .filter((a) => a.contentType === 'application/vnd.microsoft.card.adaptive')
      .map((a) => a.content);
  }
}

/** Every action of a card (including those nested in containers and action sets), depth first. */
export function cardActions(card) {
  const found = [];
  const walk = (node) => {
    if (Array.isArray(node)) {
      node.forEach(walk);
    } else if (node && typeof node === 'object') {
      if (typeof node.type === 'string' && node.type.startsWith('Action.')) found.push(node);
      for (const value of Object.values(node)) walk(value);
    }
  };
  walk(card);
  return found;
}

/** The playground's mention text for an account: `<at>Name</at>`. */
export function mentionText(name) {
  return `<at>${name}</at>`;
}

async function httpJson(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${url} -> ${response.status}: ${text}`);
  }
  return text === '' ? undefined : JSON.parse(text);
}

/** A connection to a running Agents Playground: its mocked tenant, its API, and the bot's messages. */
export class Playground {
  /**
   * Connects to the playground at `url` (default: env PLAYGROUND_URL), opens the websocket first (so nothing the
   * bot posts is missed) and reads the mocked tenant's configuration.
   */
  static async connect({ url = process.env.PLAYGROUND_URL, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    if (!url) throw new Error('PLAYGROUND_URL is not set (tests/playground/run sets it)');
    if (typeof WebSocket === 'undefined') {
      throw new Error('no global WebSocket: run node with --experimental-websocket (Node 20) or Node >= 22');
    }
    const playground = new Playground(url.replace(/\/$/, ''), timeoutMs);
    await playground.#openSocket();
    const { config } = await httpJson('GET', `${playground.url}/_internal/v1/config`);
    playground.config = config;
    return playground;
  }

  #socket;
  #waiters = new Set();

  constructor(url, timeoutMs) {
    this.url = url;
    this.timeoutMs = timeoutMs;
    /** Every frame received, in order. */
    this.events = [];
    /** Raw frames that were not JSON (should stay empty). */
    this.badFrames = [];
  }

  async #openSocket() {
    const wsUrl = `${this.url.replace(/^http/, 'ws')}/_ws_conversation/v1/conversations/stream`;
    const socket = new WebSocket(wsUrl);
    this.#socket = socket;
    socket.addEventListener('message', (ev) => {
      let frame;
      try {
        frame = JSON.parse(typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString('utf8'));
      } catch {
        this.badFrames.push(ev.data);
        return;
      }
      const event = new BotEvent(this.events.length, frame);
      if (event.kind === 'update') {
        // An update of a thread's root names only the channel: take the thread from the message's creation.
        const created = this.events.find((e) => e.kind === 'create' && e.messageId === event.messageId);
        if (created) {
          event.conversationId = created.conversationId;
          event.topConversationId = created.topConversationId;
        }
      }
      this.events.push(event);
      for (const waiter of [...this.#waiters]) waiter(event);
    });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new WaitTimeout(`websocket ${wsUrl} did not open`)), this.timeoutMs);
      socket.addEventListener('open', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error(`websocket ${wsUrl} failed`));
      });
    });
  }

  /** Closes the websocket. */
  close() {
    this.#socket?.close();
  }

  // ---- the mocked tenant -------------------------------------------------------------------------------------

  get bot() {
    return this.config.bot;
  }

  get me() {
    return this.config.currentUser;
  }

  get personalChatId() {
    return this.config.personalChat.id;
  }

  get groupChatId() {
    return this.config.groupChats[0].id;
  }

  get team() {
    return this.config.teams[0];
  }

  /** The General channel's id, which is the team id in Teams. */
  get generalChannelId() {
    return this.team.channels[0].id;
  }

  /** Display names of the users the config puts in the team (the current user included). */
  get teamMemberNames() {
    const ids = new Set(this.team.members);
    return [this.me, ...this.config.users].filter((u) => u === this.me || ids.has(u.id)).map((u) => u.name);
  }

  // ---- sending as the user -----------------------------------------------------------------------------------

  /**
   * Posts a user message into `conversationId` (a chat id or a channel id) through the playground's own client
   * API. Returns {messageId, postConversationId?, timestamp} plus `conversationId`: where replies will land.
   */
  async send(conversationId, text, { from = this.me.id, mentions, textFormat = 'plain' } = {}) {
    const body = { from: { id: from }, text, textFormat };
    if (mentions) body.mentions = mentions;
    const result = await httpJson(
      'POST',
      `${this.url}/_conversation/v1/conversations/${encodeURIComponent(conversationId)}/messages`,
      body,
    );
    return { ...result, conversationId: result.postConversationId ?? conversationId };
  }

  /** A 1:1 message to the bot. */
  sendPersonal(text) {
    return this.send(this.personalChatId, text);
  }

  /** `<at>Bot</at> text` with the bot's mention entity, in a channel (default: General) or a chat. */
  sendMentioningBot(conversationId, text) {
    const at = mentionText(this.bot.name);
    return this.send(conversationId, `${at} ${text}`, { mentions: [{ mentioned: { id: this.bot.id }, text: at }] });
  }

  /** A channel message with the bot @mentioned; starts a new thread in the channel. */
  sendChannel(text, channelId = this.generalChannelId) {
    return this.sendMentioningBot(channelId, text);
  }

  /** A group chat message with the bot @mentioned. */
  sendGroupChat(text, chatId = this.groupChatId) {
    return this.sendMentioningBot(chatId, text);
  }

  /** Submits a card's Action.Submit `value` as a reply to the bot's message `replyToId` in `conversationId`. */
  submit(conversationId, replyToId, value, { from = this.me.id } = {}) {
    return httpJson('POST', `${this.url}/_conversation/v1/submit`, {
      conversation: { id: conversationId },
      from: { id: from },
      replyToId,
      value,
    });
  }

  /** An Action.Execute (`adaptiveCard/action` invoke) on the bot's card `replyToId`; returns the invoke response. */
  invokeAction(conversationId, replyToId, value, { from = this.me.id } = {}) {
    return httpJson('POST', `${this.url}/_conversation/v1/invoke`, {
      name: 'adaptiveCard/action',
      conversation: { id: conversationId },
      from: { id: from },
      replyToId,
      value,
    });
  }

  /**
   * A message extension search (`composeExtension/query` invoke) in `conversationId` with this `value`
   * ({commandId, parameters:[{name, value}], queryOptions}); returns the bot's answer ({composeExtension}).
   */
  invokeSearch(conversationId, value, { from = this.me.id } = {}) {
    return httpJson('POST', `${this.url}/_conversation/v1/invoke`, {
      name: 'composeExtension/query',
      conversation: { id: conversationId },
      from: { id: from },
      value,
    });
  }

  /** The playground's template for a custom activity (type: install, uninstall, botAdded, userAdded, ...). */
  customActivityTemplate(conversationId, type) {
    const query = new URLSearchParams({ conversationId });
    if (type) query.set('type', type);
    return httpJson('GET', `${this.url}/_internal/v1/customActivities/template?${query}`);
  }

  /** Sends any activity to the bot as is (the playground answers before it is delivered). */
  sendCustomActivity(activity) {
    return httpJson('POST', `${this.url}/_internal/v1/customActivities`, activity);
  }

  /**
   * Installs the bot in a conversation as the playground's UI does: installationUpdate (add) and
   * conversationUpdate (membersAdded with the bot) are both sent to the bot.
   */
  install(conversationId) {
    return httpJson('POST', `${this.url}/_debug/conversation/${encodeURIComponent(conversationId)}/installation`, {});
  }

  /** The roster the playground's mocked connector gives the bot for `members` of a conversation. */
  roster(conversationId) {
    return httpJson('GET', `${this.url}/_connector/v3/conversations/${encodeURIComponent(conversationId)}/members`);
  }

  // ---- observing the bot -------------------------------------------------------------------------------------

  /** The index the next event will get: pass it as `since` to look only at what comes after now. */
  mark() {
    return this.events.length;
  }

  /**
   * Resolves with the first event (at index >= `since`) that matches `predicate`; rejects with WaitTimeout after
   * `timeoutMs`, listing what was seen.
   */
  waitFor(predicate, { since = 0, timeoutMs = this.timeoutMs, what = 'a matching bot message' } = {}) {
    const already = this.events.slice(since).find(predicate);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const waiter = (event) => {
        if (event.seq >= since && predicate(event)) {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(event);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}; seen:\n${this.describe(since)}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Waits for a new message from the bot in `conversationId` (exact id, thread included) matching `predicate`. */
  waitForMessage(conversationId, predicate = () => true, options = {}) {
    return this.waitFor((e) => e.kind === 'create' && e.conversationId === conversationId && predicate(e), {
      what: `a bot message in ${conversationId}`,
      ...options,
    });
  }

  /** Waits for an update (PUT) of the bot's message `messageId`. */
  waitForUpdate(messageId, predicate = () => true, options = {}) {
    return this.waitFor((e) => e.kind === 'update' && e.messageId === messageId && predicate(e), {
      what: `an update of message ${messageId}`,
      ...options,
    });
  }

  /**
   * Collects, for exactly `ms` milliseconds from now, the events (index >= `since`) matching `predicate`: the
   * bounded wait used to assert that nothing more arrives.
   */
  async collect(predicate, { since = 0, ms = 2_000 } = {}) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.events.slice(since).filter(predicate);
  }

  /** A readable list of the events since `since`, for failure messages. */
  describe(since = 0) {
    const lines = this.events
      .slice(since)
      .map((e) => `  #${e.seq} ${e.kind} in ${e.conversationId} id=${e.messageId}: ${JSON.stringify(e.text)}` +
        (e.attachments.length ? ` [${e.attachments.map((a) => a.contentType).join(', ')}]` : ''));
    return lines.length ? lines.join('\n') : '  (nothing)';
  }
}

/**
 * The bot under test (the devserver, the minimal bot or the echo bot): env BOT_URL, e.g. http://127.0.0.1:3978.
 * Its admin routes take `Authorization: Bearer <token>`: the token is read from the file env BOT_ADMIN_TOKEN_FILE
 * names (the one our devservers write beside STATE_PATH when BOT_ADMIN_TOKEN is unset); none for the echo bot.
 */
export class BotServer {
  constructor(url = process.env.BOT_URL, adminTokenFile = process.env.BOT_ADMIN_TOKEN_FILE) {
    if (!url) throw new Error('BOT_URL is not set (tests/playground/run sets it)');
    this.url = url.replace(/\/$/, '');
    this.adminToken = adminTokenFile ? readFileSync(adminTokenFile, 'utf8').trim() : undefined;
  }

  /** POST /api/tick with the admin token: runs the scheduled (polling) work that is due now. Returns {status, body}. */
  async tick() {
    const headers = this.adminToken ? { authorization: `Bearer ${this.adminToken}` } : {};
    const response = await fetch(`${this.url}/api/tick`, {
      method: 'POST',
      headers,
      signal: AbortSignal.timeout(20_000),
    });
    return { status: response.status, body: await response.text() };
  }
}

/**
 * Which bot the run targets (env PLAYGROUND_BOT): "devserver" (the reference bot, the default), "minimal" (the
 * minimal example bot, examples/minimal) or "echo" (the driver self-check bot).
 */
export const BOT_KIND = ['echo', 'minimal'].includes(process.env.PLAYGROUND_BOT)
  ? process.env.PLAYGROUND_BOT
  : 'devserver';

/**
 * node:test's `test` for a file written for the bots in `kinds`, and `skip`: false when the run targets one of
 * them, else the reason. Against any other bot every test of the file is skipped with that reason (a test's own
 * `skip` applies as well); the file should then not connect to the playground either:
 *
 *   const { test, skip } = testsFor('devserver', 'echo');
 *   before(async () => { if (!skip) pg = await Playground.connect(); });
 */
export function testsFor(...kinds) {
  const skip = kinds.includes(BOT_KIND) ? false : `PLAYGROUND_BOT=${BOT_KIND}: this file tests ${kinds.join(', ')}`;
  // node:test itself when the file runs: a wrapper would become every test's reported location.
  const test = skip
    ? (name, options, fn) =>
        typeof options === 'function' ? nodeTest(name, { skip }, options) : nodeTest(name, { ...options, skip }, fn)
    : nodeTest;
  return { skip, test };
}

/**
 * Features the driver self-check echo bot (support/echo-bot.mjs) lacks; tests needing them are skipped when
 * PLAYGROUND_BOT=echo. Against our devserver nothing is skipped.
 */
export function unsupportedByEchoBot(feature) {
  const missing = { help: 'help', whoami: 'whoami', update: 'update demo' };
  return BOT_KIND === 'echo' && feature in missing ? `the echo self-check bot has no ${missing[feature]}` : false;
}
