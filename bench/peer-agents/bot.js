// A benchmark peer: a Microsoft 365 Agents SDK bot (@microsoft/agents-hosting 1.8, CloudAdapter + its JWT middleware,
// authentication ON) doing our reference bot's echo, pointed at the fake Teams service that bench/run starts, through
// the SDK's own configuration and extension points:
//   - inbound: `authorizeJWT` (CloudAdapter.authorizeRequest) finds the signing keys by the token's issuer, and for
//     the Bot Framework issuer (https://api.botframework.com) the keys URL is hard-coded to
//     https://login.botframework.com/v1/.well-known/keys (`buildJwksUri`), which no setting changes. For any other
//     issuer it uses `<authority>/<tenant>/discovery/v2.0/keys` and accepts `<authority>/<tenant>/v2.0` (the
//     Entra-shaped tokens the SDK also takes), so the `authority` setting points it at the fake, and the harness
//     signs this peer's token with that issuer (same RS256 key, same audience, same serviceurl claim);
//   - outbound: MSAL refuses an http:// authority, so the token comes from the fake token endpoint (client
//     credentials) through the adapter's ConnectionManager, built with our AuthProvider factory — the SDK's hook
//     for token providers (its default factory makes an MsalTokenProvider per connection);
//   - replies go to the activity's serviceUrl (the fake Connector).
// Served with node's own http module and a minimal request/response shim (the cheapest server CloudAdapter
// accepts), on 127.0.0.1 only. Configuration from the environment (bench/src/bin/webhook.rs sets it):
//   PORT, MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID, BOT_TOKEN_ENDPOINT, BOT_OAUTH_SCOPE,
//   BENCH_AUTHORITY (http://127.0.0.1:<fake port>).
'use strict';

const http = require('node:http');
const { CloudAdapter, ActivityHandler, ConnectionManager } = require('@microsoft/agents-hosting');

const env = (name, fallback) => {
    const value = process.env[name] ?? fallback;
    if (value === undefined || value === '') {
        throw new Error(`${name} is required`);
    }
    return value;
};

const APP_ID = env('MICROSOFT_APP_ID');
const APP_PASSWORD = env('MICROSOFT_APP_PASSWORD');
const TENANT_ID = env('MICROSOFT_APP_TENANT_ID');
const TOKEN_ENDPOINT = env('BOT_TOKEN_ENDPOINT');
const SCOPE = env('BOT_OAUTH_SCOPE', 'https://api.botframework.com/.default');
const AUTHORITY = env('BENCH_AUTHORITY');
const PORT = Number(env('PORT', '3979'));

// Outbound credentials: a client-credentials token from the fake token endpoint, cached until 5 minutes before it
// expires, with one fetch in flight at a time (as MSAL's cache would behave). The same code in every Node peer.
class FakeEndpointTokens {
    constructor() {
        this.token = null;
        this.expiresAt = 0;
        this.pending = null;
    }

    async get() {
        if (this.token && Date.now() < this.expiresAt) {
            return this.token;
        }
        if (!this.pending) {
            this.pending = (async () => {
                const form = new URLSearchParams({
                    grant_type: 'client_credentials',
                    client_id: APP_ID,
                    client_secret: APP_PASSWORD,
                    scope: SCOPE,
                });
                const response = await fetch(TOKEN_ENDPOINT, { method: 'POST', body: form });
                if (!response.ok) {
                    throw new Error(`token endpoint answered ${response.status}`);
                }
                const body = await response.json();
                this.token = body.access_token;
                this.expiresAt = Date.now() + (Number(body.expires_in) - 300) * 1000;
                return this.token;
            })().finally(() => {
                this.pending = null;
            });
        }
        return this.pending;
    }
}

// The AuthProvider interface (auth/authProvider.d.ts): the app-only token is all an echo needs.
class FakeEndpointAuthProvider {
    constructor(connectionSettings) {
        this.connectionSettings = connectionSettings;
        this.tokens = new FakeEndpointTokens();
    }

    async getAccessToken(authConfigOrScope, scope) {
        const wanted = typeof authConfigOrScope === 'string' ? authConfigOrScope : scope;
        if (wanted && !SCOPE.startsWith(wanted)) {
            throw new Error(`no token for scope ${wanted}`);
        }
        return this.tokens.get();
    }

    async getAgenticApplicationToken() {
        throw new Error('agentic tokens are not part of the benchmark');
    }

    async getAgenticInstanceToken() {
        throw new Error('agentic tokens are not part of the benchmark');
    }

    async getAgenticUserToken() {
        throw new Error('agentic tokens are not part of the benchmark');
    }

    async acquireTokenOnBehalfOf() {
        throw new Error('on-behalf-of tokens are not part of the benchmark');
    }
}

const authConfig = {
    clientId: APP_ID,
    clientSecret: APP_PASSWORD,
    tenantId: TENANT_ID,
    authority: AUTHORITY,
    validateIssuer: true,
};
const adapter = new CloudAdapter(authConfig);
adapter.connectionManager = new ConnectionManager(
    (config) => new FakeEndpointAuthProvider(config),
    undefined,
    undefined,
    adapter.authConfig,
);
adapter.onTurnError = async (_context, error) => {
    console.error('turn error', error);
};

// The reference bot's echo: the text with the bot's mentions removed, trimmed; n counts Unicode scalar values.
class EchoBot extends ActivityHandler {
    constructor() {
        super();
        this.onMessage(async (context, next) => {
            const text = (context.activity.text ?? '').replace(/<at>[^<]*<\/at>/g, '').trim();
            await context.sendActivity(`You sent ${text} which was ${[...text].length} characters`);
            await next();
        });
    }
}
const bot = new EchoBot();

// The response shape CloudAdapter and authorizeJWT use (the subset express provides).
function shim(res) {
    return {
        socket: res.socket,
        get headersSent() {
            return res.headersSent;
        },
        get writableEnded() {
            return res.writableEnded;
        },
        status(code) {
            res.statusCode = code;
            return this;
        },
        setHeader(name, value) {
            res.setHeader(name, value);
            return this;
        },
        header(name, value) {
            res.setHeader(name, value);
            return this;
        },
        send(body) {
            if (typeof body === 'object' && !Buffer.isBuffer(body)) {
                res.setHeader('content-type', 'application/json');
                res.write(JSON.stringify(body));
            } else {
                res.write(String(body));
            }
            return this;
        },
        end() {
            if (!res.writableEnded) {
                res.end();
            }
        },
    };
}

const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
        res.statusCode = 200;
        res.end('ok');
        return;
    }
    if (req.url !== '/api/messages') {
        res.statusCode = 404;
        res.end();
        return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
        size += chunk.length;
        if (size > 256 * 1024) {
            res.statusCode = 413;
            res.end();
            req.destroy();
            return;
        }
        chunks.push(chunk);
    });
    req.on('end', () => {
        if (res.writableEnded) {
            return;
        }
        try {
            req.body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
            res.statusCode = 400;
            res.end('malformed JSON');
            return;
        }
        const response = shim(res);
        const fail = (error) => {
            console.error('process failed', error);
            if (!res.writableEnded) {
                res.statusCode = 500;
                res.end();
            }
        };
        // authorizeJWT answers a refused token itself (status + body, express-style, so the shim ends it here)
        // and calls next only for a verified one.
        let processing = null;
        adapter
            .authorizeRequest(req, response, () => {
                processing = adapter.process(req, response, (context) => bot.run(context));
            })
            .then(() => (processing ? processing : response.end()))
            .catch(fail);
    });
});
server.keepAliveTimeout = 65_000;
server.listen(PORT, '127.0.0.1', () => {
    console.log(`peer (agents-hosting) listening on 127.0.0.1:${PORT}`);
});
