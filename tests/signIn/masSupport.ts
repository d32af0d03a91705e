/**
 * Helpers for tests on the real MAS (tests/bed/mas.ts): a token of a MAS account as any OAuth client would get one
 * (device grant approved at MAS's pages), Matrix API calls with it, and the CLI's device-code prompts.
 */
import type { RealMas } from "../bed/mas.ts";
import { MasPerson } from "../bed/masPerson.ts";
import type { StartedCli } from "../cli/cliProcess.ts";

export interface Token {
    accessToken: string;
}

export async function api(
    mas: RealMas,
    token: Token,
    method: string,
    path: string,
    body?: unknown,
): Promise<Record<string, unknown>> {
    const res = await fetch(`${mas.synapseUrl}/_matrix/client/v3/${path}`, {
        method,
        headers: { "authorization": `Bearer ${token.accessToken}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
}

/** A token of `n`'s own, through MAS's device grant, as any OAuth client would get one (for seeding and checks). */
export async function tokenOf(mas: RealMas, n: 0 | 1 | 2): Promise<Token> {
    const meta = (await (await fetch(`${mas.synapseUrl}/_matrix/client/v1/auth_metadata`)).json()) as Record<
        string,
        string
    >;
    const reg = (await (
        await fetch(meta.registration_endpoint, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
                client_name: "test seeding",
                client_uri: "https://example.org/",
                application_type: "native",
                redirect_uris: ["http://127.0.0.1/callback"],
                grant_types: ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
                response_types: ["code"],
                token_endpoint_auth_method: "none",
            }),
        })
    ).json()) as { client_id: string };
    const form = (body: Record<string, string>) => ({
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(body).toString(),
    });
    const grant = (await (
        await fetch(
            meta.device_authorization_endpoint,
            form({
                client_id: reg.client_id,
                scope: `urn:matrix:client:api:* urn:matrix:client:device:SEED${n}${Date.now()}`,
            }),
        )
    ).json()) as { device_code: string; user_code: string; verification_uri: string };
    const user = mas.users[n];
    await new MasPerson(user.localpart, user.password).answerDeviceCode(
        grant.verification_uri,
        grant.user_code,
        "consent",
    );
    const answer = (await (
        await fetch(
            meta.token_endpoint,
            form({
                grant_type: "urn:ietf:params:oauth:grant-type:device_code",
                device_code: grant.device_code,
                client_id: reg.client_id,
            }),
        )
    ).json()) as { access_token: string };
    return { accessToken: answer.access_token };
}

/** Waits for the `nth` (0-based) device-code prompt on the CLI's stderr. */
export async function deviceCodePrompt(cli: StartedCli, nth: number): Promise<{ uri: string; code: string }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
        const prompts = [...cli.stderr().matchAll(/open (\S+) on any device and enter the code (\S+);/g)];
        if (prompts[nth]) return { uri: prompts[nth][1], code: prompts[nth][2] };
        if (Date.now() > deadline) throw new Error(`no device code #${nth + 1}; stderr:\n${cli.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}
