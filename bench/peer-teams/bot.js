// A benchmark peer: a Teams SDK v2 bot (@microsoft/teams.apps 2.1, `App`, authentication ON) doing our reference
// bot's echo, pointed at the fake Teams service that bench/run starts, through the SDK's own options:
//   - inbound: the `cloud` option (a CloudEnvironment) with `openIdMetadataUrl` set to the fake's metadata URL; the
//     SDK derives the keys URL from it (…/openidconfiguration -> …/keys) and checks issuer
//     https://api.botframework.com, our app id as audience and the serviceurl claim against the activity;
//   - outbound: the `token` option (the SDK's hook for "token fetching yourself") answers a client-credentials
//     token from the fake token endpoint. The SDK decodes what it is given as a JWT (reads its exp), which is why
//     the fake issues JWT-shaped tokens;
//   - replies go to the activity's serviceUrl (the fake Connector);
//   - the transport is the SDK's `httpServerAdapter` seam (IHttpServerAdapter), implemented below on node's own
//     http module instead of the default express adapter, as the other Node peers are served.
// Runs on Node >= 22.12 (the package's engines), which bench/run installs into bench/node. 127.0.0.1 only.
// Configuration from the environment (bench/src/bin/webhook.rs sets it): PORT, MICROSOFT_APP_ID,
//   MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID, BOT_OPENID_METADATA_URL, BOT_TOKEN_ENDPOINT, BOT_OAUTH_SCOPE.
'use strict';

const http = require('node:http');
const { App } = require('@microsoft/teams.apps');
const { PUBLIC } = require('@microsoft/teams.api');
const { ConsoleLogger } = require('@microsoft/teams.common');

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
const tokens = new FakeEndpointTokens();

// The SDK's transport seam on node's http module: one POST route (the messaging endpoint), JSON in and out.
class NodeHttpAdapter {
    constructor() {
        this.routes = new Map();
        this.server = http.createServer((req, res) => this.serve(req, res));
        this.server.keepAliveTimeout = 65_000;
    }

    registerRoute(method, path, handler) {
        if (method !== 'POST') {
            throw new Error(`unsupported method ${method}`);
        }
        this.routes.set(path, handler);
    }

    serve(req, res) {
        if (req.url === '/healthz') {
            res.statusCode = 200;
            res.end('ok');
            return;
        }
        const handler = req.method === 'POST' ? this.routes.get(req.url) : undefined;
        if (!handler) {
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
            let body;
            try {
                body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
                res.statusCode = 400;
                res.end('malformed JSON');
                return;
            }
            handler({ body, headers: req.headers })
                .then((answer) => {
                    res.statusCode = answer.status;
                    if (answer.body === undefined || answer.body === null) {
                        res.end();
                    } else {
                        res.setHeader('content-type', 'application/json');
                        res.end(JSON.stringify(answer.body));
                    }
                })
                .catch((error) => {
                    console.error('handler failed', error);
                    if (!res.writableEnded) {
                        res.statusCode = 500;
                        res.end();
                    }
                });
        });
    }

    async start(port) {
        await new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(Number(port), '127.0.0.1', resolve);
        });
    }

    async stop() {
        await new Promise((resolve) => this.server.close(() => resolve()));
    }
}

const app = new App({
    clientId: APP_ID,
    tenantId: TENANT_ID,
    token: async (scope) => {
        if (scope && scope !== SCOPE) {
            throw new Error(`no token for scope ${scope}`);
        }
        return tokens.get();
    },
    cloud: { ...PUBLIC, openIdMetadataUrl: env('BOT_OPENID_METADATA_URL') },
    httpServerAdapter: new NodeHttpAdapter(),
    logger: new ConsoleLogger('@teams/app', { level: 'warn' }),
});

// The reference bot's echo: the text with the bot's mentions removed, trimmed; n counts Unicode scalar values.
app.on('message', async ({ activity, send }) => {
    const text = (activity.text ?? '').replace(/<at>[^<]*<\/at>/g, '').trim();
    await send(`You sent ${text} which was ${[...text].length} characters`);
});

app.start(PORT).then(
    () => console.log(`peer (teams.apps) listening on 127.0.0.1:${PORT}`),
    (error) => {
        console.error('start failed', error);
        process.exit(1);
    },
);
