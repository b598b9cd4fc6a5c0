// A benchmark peer: a botbuilder-js 4.23 bot (CloudAdapter, authentication ON; botbuilder-js is archived, its
// successors are bench/peer-agents and bench/peer-teams) doing our reference bot's echo, pointed at the fake Teams
// service that bench/run starts:
//   - inbound tokens are verified against the fake OpenID metadata (ToBotFromChannelOpenIdMetadataUrl) with the
//     Bot Framework issuer, our app id as audience, the `msteams` endorsement and the serviceUrl claim;
//   - outbound tokens come from the fake token endpoint (client credentials) through a ServiceClientCredentialsFactory;
//   - replies go to the activity's serviceUrl (the fake Connector).
// Served with node's own http module (a minimal request/response shim, the cheapest server botbuilder accepts), on
// 127.0.0.1 only. Configuration from the environment (bench/src/bin/webhook.rs sets it):
//   PORT, MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD, MICROSOFT_APP_TENANT_ID, BOT_OPENID_METADATA_URL,
//   BOT_TOKEN_ENDPOINT, BOT_OAUTH_SCOPE, BOT_TOKEN_ISSUER.
'use strict';

const http = require('node:http');
const { CloudAdapter, ConfigurationBotFrameworkAuthentication, ActivityHandler } = require('botbuilder');
const { ServiceClientCredentialsFactory } = require('botframework-connector');

const env = (name, fallback) => {
    const value = process.env[name] ?? fallback;
    if (value === undefined || value === '') {
        throw new Error(`${name} is required`);
    }
    return value;
};

const APP_ID = env('MICROSOFT_APP_ID');
const APP_PASSWORD = env('MICROSOFT_APP_PASSWORD');
const TOKEN_ENDPOINT = env('BOT_TOKEN_ENDPOINT');
const SCOPE = env('BOT_OAUTH_SCOPE', 'https://api.botframework.com/.default');
const PORT = Number(env('PORT', '3979'));

// Outbound credentials: a client-credentials token from the fake token endpoint, cached until 5 minutes before it
// expires, with one fetch in flight at a time (as MSAL's cache would behave).
class FakeEndpointCredentials {
    constructor() {
        this.token = null;
        this.expiresAt = 0;
        this.pending = null;
    }

    async getToken() {
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

    // The ServiceClientCredentials interface the ConnectorClient calls before each request.
    async signRequest(webResource) {
        webResource.headers.set('authorization', `Bearer ${await this.getToken()}`);
        return webResource;
    }
}

class FakeEndpointCredentialsFactory extends ServiceClientCredentialsFactory {
    constructor() {
        super();
        this.credentials = new FakeEndpointCredentials();
    }

    async isValidAppId(appId) {
        return appId === APP_ID;
    }

    async isAuthenticationDisabled() {
        return false;
    }

    async createCredentials(appId, _audience, _loginEndpoint, _validateAuthority) {
        if (appId !== APP_ID) {
            throw new Error('unknown app id');
        }
        return this.credentials;
    }
}

const auth = new ConfigurationBotFrameworkAuthentication(
    {
        MicrosoftAppId: APP_ID,
        MicrosoftAppType: 'SingleTenant',
        MicrosoftAppTenantId: env('MICROSOFT_APP_TENANT_ID'),
        ToBotFromChannelOpenIdMetadataUrl: env('BOT_OPENID_METADATA_URL'),
        ToBotFromChannelTokenIssuer: env('BOT_TOKEN_ISSUER', 'https://api.botframework.com'),
        ToBotFromEmulatorOpenIdMetadataUrl: env('BOT_OPENID_METADATA_URL'),
        ToChannelFromBotLoginUrl: TOKEN_ENDPOINT,
        ToChannelFromBotOAuthScope: SCOPE,
        OAuthUrl: 'http://127.0.0.1:9/unused',
        ValidateAuthority: true,
        CallerId: 'urn:botframework:azure',
    },
    new FakeEndpointCredentialsFactory(),
);
const adapter = new CloudAdapter(auth);
adapter.onTurnError = async (context, error) => {
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

// The request/response shape CloudAdapter.process expects (the subset express/restify provide).
function shim(res) {
    return {
        socket: res.socket,
        status(code) {
            res.statusCode = code;
        },
        header(name, value) {
            res.setHeader(name, value);
        },
        send(body) {
            if (typeof body === 'object' && !Buffer.isBuffer(body)) {
                res.setHeader('content-type', 'application/json');
                res.write(JSON.stringify(body));
            } else {
                res.write(String(body));
            }
        },
        end() {
            res.end();
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
        adapter.process(req, shim(res), (context) => bot.run(context)).catch((error) => {
            console.error('process failed', error);
            if (!res.writableEnded) {
                res.statusCode = 500;
                res.end();
            }
        });
    });
});
server.keepAliveTimeout = 65_000;
server.listen(PORT, '127.0.0.1', () => {
    console.log(`peer listening on 127.0.0.1:${PORT}`);
});
