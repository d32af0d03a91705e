/**
 * Identity and authorization servers on loopback, built on `oidc-provider` (npm, a certified OpenID Connect
 * implementation) — never a mock of one:
 *
 * - `startIdentityProvider`: a real OpenID Connect provider for Synapse's single sign-on (`oidc_providers`).
 * - `startMasStandIn`: a STAND-IN for Matrix Authentication Service (which cannot be installed here): the same
 *   OpenID provider, shaped the way Synapse's MAS mode expects its issuer — open dynamic client registration, PKCE,
 *   the `urn:matrix:client:*` scopes, refresh tokens, the device authorization grant, introspection at
 *   `/oauth2/introspect` behind a shared secret that provisions the user and device in Synapse, revocation that
 *   deletes the device, and an account page that approves a cross-signing reset. Tests on it check the spec-level
 *   client flow and Synapse's MAS interface, not MAS itself.
 *
 * Both serve their own small sign-in page (one form: a user name; "Cancel" refuses): oidc-provider's development
 * pages load web fonts from the internet, which these machines must not contact. Consent is given automatically.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";

import Provider, { type Configuration, type KoaContextWithOIDC } from "oidc-provider";

export interface LoopbackProvider {
    issuer: string;
    close(): Promise<void>;
}

const MATRIX_API_SCOPE = "urn:matrix:client:api:*";
const DEVICE_SCOPE_PREFIX = "urn:matrix:client:device:";

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** The pages oidc-provider would render, without anything from outside this machine. */
const quietPages: Partial<Configuration> = {
    renderError: async (ctx, out) => {
        ctx.type = "html";
        ctx.body = page("Sign-in error", `<p role="alert">${escape(String(out.error_description ?? out.error))}</p>`);
    },
};

function deviceFlowPages(): NonNullable<Configuration["features"]>["deviceFlow"] {
    return {
        enabled: true,
        userCodeInputSource: async (ctx, form, _out, err) => {
            ctx.body = page(
                "Enter the code",
                `${err ? '<p role="alert">That code did not work.</p>' : ""}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`,
            );
        },
        userCodeConfirmSource: async (ctx, form, client, _device, userCode) => {
            ctx.body = page(
                "Confirm the sign-in",
                `<p>${escape(client.clientName ?? client.clientId)} asks to sign in with the code <code>${escape(userCode)}</code>.</p>${form}` +
                    '<button type="submit" form="op.deviceConfirmForm">Continue</button>' +
                    '<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Refuse</button>',
            );
        },
        successSource: async (ctx) => {
            ctx.body = page("Signed in", "<p>You can close this window.</p>");
        },
    };
}

type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** Listens first (the issuer needs the port), then builds the provider and serves it with extra routes in front. */
async function serveProvider(
    configure: (issuer: string) => { provider: Provider; routes: Route[] },
): Promise<LoopbackProvider & { provider: Provider }> {
    let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
    const server = createServer((req, res) => handle(req, res));
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    const issuer = `http://127.0.0.1:${port}`;
    // The built-in in-memory storage is what a test wants; oidc-provider warns about it on every start.
    const warn = console.warn;
    console.warn = (...args: unknown[]) => (String(args[0]).includes("in-memory adapter") ? undefined : warn(...args));
    let configured: ReturnType<typeof configure>;
    try {
        configured = configure(issuer);
    } finally {
        console.warn = warn;
    }
    const { provider, routes } = configured;
    const callback = provider.callback();
    const interaction: Route = async (req, res, url) => {
        const match = /^\/interaction\/([^/]+)$/.exec(url.pathname);
        if (!match) return false;
        const details = await provider.interactionDetails(req, res);
        const { prompt, params, grantId, session } = details;
        if (prompt.name === "login") {
            if (req.method === "POST") {
                const form = await readForm(req);
                const result = form.has("cancel")
                    ? { error: "access_denied", error_description: "The person refused to sign in." }
                    : { login: { accountId: (form.get("login") ?? "").trim() } };
                await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
                return true;
            }
            res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(
                page(
                    "Sign in to the test identity provider",
                    `<form method="post" action="${escape(url.pathname)}"><label>User name <input name="login" autocomplete="off" required></label>` +
                        '<button type="submit">Sign in</button><button type="submit" name="cancel" value="1" formnovalidate>Cancel</button></form>',
                ),
            );
            return true;
        }
        // Consent: granted automatically (the person already chose to sign in).
        const grant = grantId
            ? await provider.Grant.find(grantId)
            : new provider.Grant({ accountId: session!.accountId, clientId: params.client_id as string });
        const missing = prompt.details as {
            missingOIDCScope?: string[];
            missingOIDCClaims?: string[];
            missingResourceScopes?: Record<string, string[]>;
        };
        if (missing.missingOIDCScope) grant!.addOIDCScope(missing.missingOIDCScope.join(" "));
        if (missing.missingOIDCClaims) grant!.addOIDCClaims(missing.missingOIDCClaims);
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
            grant!.addResourceScope(indicator, scopes.join(" "));
        await provider.interactionFinished(
            req,
            res,
            { consent: { grantId: await grant!.save() } },
            { mergeWithLastSubmission: true },
        );
        return true;
    };
    const all = [...routes, interaction];
    handle = (req, res) => {
        const url = new URL(req.url ?? "/", issuer);
        void (async () => {
            for (const route of all) if (await route(req, res, url)) return;
            callback(req, res);
        })().catch((e: Error) => {
            if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
            res.end(`stand-in error: ${e.message}`);
        });
    };
    return {
        issuer,
        provider,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

const commonConfig = (): Configuration => ({
    cookies: { keys: [randomBytes(16).toString("hex")] },
    // A signing key of this run (the built-in one is for quick starts and says so on every start).
    jwks: {
        keys: [
            {
                ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }),
                use: "sig",
                alg: "RS256",
            } as never,
        ],
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => ({
        accountId: sub,
        claims: async () => ({ sub, preferred_username: sub, name: `${sub} (test IdP)` }),
    }),
    claims: { openid: ["sub"], profile: ["preferred_username", "name"] },
    ...quietPages,
});

/** A real OpenID Connect provider for Synapse's single sign-on; any user name signs in as that user. */
export async function startIdentityProvider(opts: {
    synapseBaseUrl: string;
    clientSecret: string;
}): Promise<LoopbackProvider> {
    return serveProvider((issuer) => ({
        provider: new Provider(issuer, {
            ...commonConfig(),
            clients: [
                {
                    client_id: "synapse",
                    client_secret: opts.clientSecret,
                    redirect_uris: [`${opts.synapseBaseUrl}/_synapse/client/oidc/callback`],
                    grant_types: ["authorization_code"],
                    response_types: ["code"],
                },
            ],
            features: { devInteractions: { enabled: false } },
        }),
        routes: [],
    }));
}

/** What Synapse needs in its config to sign in through `startIdentityProvider`. */
export function synapseSsoConfig(
    issuer: string,
    clientSecret: string,
    clientWhitelist: string[],
): Record<string, unknown> {
    return {
        password_config: { enabled: false },
        sso: { client_whitelist: clientWhitelist },
        oidc_providers: [
            {
                idp_id: "loopback",
                idp_name: "Loopback IdP",
                issuer: `${issuer}/`,
                client_id: "synapse",
                client_secret: clientSecret,
                scopes: ["openid", "profile"],
                skip_verification: true,
                user_profile_method: "userinfo_endpoint",
                allow_existing_users: true,
                user_mapping_provider: {
                    config: {
                        localpart_template: "{{ user.preferred_username }}",
                        display_name_template: "{{ user.name }}",
                    },
                },
            },
        ],
    };
}

export interface MasStandIn extends LoopbackProvider {
    /** For Synapse: `matrix_authentication_service.endpoint`. */
    endpoint: string;
    /** A token Synapse accepts as a server admin's (the stand-in's own test access to the admin API). */
    adminToken: string;
    /** Refresh requests served so far (a test can see that a session refreshed). */
    refreshes(): number;
}

export interface MasStandInOptions {
    /** Synapse's client API, for provisioning users and devices. */
    synapseBaseUrl: string;
    /** Shared with Synapse (`matrix_authentication_service.secret`). */
    secret: string;
    /** Access tokens' lifetime in seconds (MAS: 5 minutes). */
    accessTokenTtl?: number;
}

/** Device id of a token's scope (`urn:matrix:client:device:<id>`). */
function deviceOf(scope: string | undefined): string | undefined {
    return scope
        ?.split(" ")
        .find((s) => s.startsWith(DEVICE_SCOPE_PREFIX))
        ?.slice(DEVICE_SCOPE_PREFIX.length);
}

/** The scopes a request asked for, wherever oidc-provider keeps them at that point. */
function requestedScope(ctx: KoaContextWithOIDC): string {
    const oidc = ctx.oidc;
    const entities = oidc?.entities as Record<string, { scope?: string } | undefined> | undefined;
    return (
        (oidc?.params?.scope as string | undefined) ??
        entities?.AuthorizationCode?.scope ??
        entities?.DeviceCode?.scope ??
        entities?.RefreshToken?.scope ??
        entities?.Grant?.scope ??
        ""
    );
}

/** A stand-in for Matrix Authentication Service (see the file's comment for what it is and is not). */
export async function startMasStandIn(opts: MasStandInOptions): Promise<MasStandIn> {
    const adminToken = `standin_admin_${randomBytes(12).toString("hex")}`;
    let refreshes = 0;
    /** grant id → the user and device it signed in (revoking the grant deletes the device). */
    const devicesByGrant = new Map<string, { localpart: string; deviceId: string }>();
    const toSynapse = async (path: string, body: unknown) => {
        const res = await fetch(`${opts.synapseBaseUrl}/_synapse/mas/${path}`, {
            method: "POST",
            headers: { "Authorization": `Bearer ${opts.secret}`, "Content-Type": "application/json" },
            body: JSON.stringify(body),
        });
        if (!res.ok) throw new Error(`Synapse ${path}: ${res.status} ${await res.text()}`);
    };
    const provisioned = new Set<string>();
    const provision = async (localpart: string, deviceId?: string) => {
        const key = `${localpart}/${deviceId ?? ""}`;
        if (provisioned.has(key)) return;
        await toSynapse("provision_user", { localpart, set_displayname: localpart });
        if (deviceId)
            await toSynapse("upsert_device", { localpart, device_id: deviceId, display_name: "Account migration" });
        provisioned.add(key);
    };

    const served = await serveProvider((issuer) => {
        const provider = new Provider(issuer, {
            ...commonConfig(),
            features: {
                devInteractions: { enabled: false },
                registration: { enabled: true },
                revocation: { enabled: true },
                deviceFlow: deviceFlowPages(),
                resourceIndicators: {
                    enabled: true,
                    // Every token is for the Matrix client API; its scope carries the device.
                    defaultResource: () => "urn:matrix:client",
                    useGrantedResource: () => true,
                    getResourceServerInfo: async (ctx) => ({
                        scope: [
                            MATRIX_API_SCOPE,
                            ...requestedScope(ctx)
                                .split(" ")
                                .filter((s) => s.startsWith(DEVICE_SCOPE_PREFIX)),
                        ].join(" "),
                        accessTokenFormat: "opaque",
                        accessTokenTTL: opts.accessTokenTtl ?? 300,
                    }),
                },
            },
            // MAS lets any origin call its OAuth endpoints.
            clientBasedCORS: () => true,
            issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
            discovery: {
                account_management_uri: `${issuer}/account`,
                account_management_actions_supported: ["org.matrix.cross_signing_reset"],
            },
            ttl: { AccessToken: opts.accessTokenTtl ?? 300 },
        });
        provider.on("access_token.saved", (token) => {
            const deviceId = deviceOf(token.scope);
            if (token.grantId && token.accountId && deviceId)
                devicesByGrant.set(token.grantId, { localpart: token.accountId, deviceId });
        });
        provider.on("grant.success", (ctx) => {
            if ((ctx.oidc.params?.grant_type as string | undefined) === "refresh_token") refreshes++;
        });
        provider.on("grant.revoked", (_ctx, grantId) => {
            const device = devicesByGrant.get(grantId);
            devicesByGrant.delete(grantId);
            if (device)
                void toSynapse("delete_device", { localpart: device.localpart, device_id: device.deviceId }).catch(
                    () => undefined,
                );
        });

        const registrationCors: Route = async (req, res, url) => {
            if (url.pathname !== "/reg") return false;
            res.setHeader("Access-Control-Allow-Origin", "*");
            if (req.method !== "OPTIONS") return false;
            res.writeHead(204, {
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type, Accept",
            }).end();
            return true;
        };
        const introspection: Route = async (req, res, url) => {
            if (url.pathname !== "/oauth2/introspect") return false;
            if (req.headers.authorization !== `Bearer ${opts.secret}`) {
                res.writeHead(401).end();
                return true;
            }
            const token = (await readForm(req)).get("token") ?? "";
            let answer: Record<string, unknown> = { active: false };
            if (token === adminToken) {
                await provision("standin-admin");
                answer = {
                    active: true,
                    scope: `${MATRIX_API_SCOPE} urn:synapse:admin:*`,
                    username: "standin-admin",
                    sub: "standin-admin",
                };
            } else {
                const found = await provider.AccessToken.find(token);
                if (found && !found.isExpired && found.accountId) {
                    const deviceId = deviceOf(found.scope);
                    await provision(found.accountId, deviceId);
                    answer = {
                        active: true,
                        scope: found.scope,
                        username: found.accountId,
                        sub: found.accountId,
                        client_id: found.clientId,
                        expires_in: found.remainingTTL,
                    };
                }
            }
            res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(answer));
            return true;
        };
        // The account page's one action: approve replacing the cross-signing keys (MAS: "Reset your identity").
        const accountPage: Route = async (req, res, url) => {
            if (url.pathname !== "/account") return false;
            if (req.method === "POST") {
                const localpart = ((await readForm(req)).get("localpart") ?? "").trim();
                await toSynapse("allow_cross_signing_reset", { localpart });
                res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(
                    page("Approved", "<p>You can close this window.</p>"),
                );
                return true;
            }
            res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(
                page(
                    "Account",
                    `<p>Action: ${escape(url.searchParams.get("action") ?? "none")}</p><form method="post"><label>User name <input name="localpart" required></label>` +
                        '<button type="submit">Allow resetting the encryption identity</button></form>',
                ),
            );
            return true;
        };
        return { provider, routes: [registrationCors, introspection, accountPage] };
    });
    return { ...served, endpoint: `${served.issuer}/`, adminToken, refreshes: () => refreshes };
}

/** What Synapse needs in its config to delegate sign-in to the stand-in. */
export function synapseMasConfig(standIn: MasStandIn, secret: string): Record<string, unknown> {
    return {
        password_config: { enabled: false },
        matrix_authentication_service: { enabled: true, endpoint: standIn.endpoint, secret },
    };
}
