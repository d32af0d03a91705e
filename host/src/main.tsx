/**
 * The project's stand-in for Element Web: loads runtime modules from config.json through the real ModuleLoader,
 * exposes a real logged-in matrix-js-sdk client as window.mxMatrixClientPeg, and renders the few surfaces the
 * module uses (space panel, location renderers, composer preview, dialogs) the way Element does.
 * Start-up order follows Element's: window.React, config, modules, then login/session restore, then the app.
 */
import React from "react";
import { createRoot } from "react-dom/client";
import { ModuleLoader } from "@element-hq/element-web-module-api";
import type { Api, Config } from "@element-hq/element-web-module-api";
import { createClient, type MatrixClient } from "matrix-js-sdk";

import { HostApi, type HostState } from "./api.ts";
import { App } from "./App.tsx";

interface StoredSession {
    baseUrl: string;
    userId: string;
    deviceId: string;
    accessToken: string;
}

const SESSION_KEY = "mx_host_session";

function ErrorView({ message }: { message: string }): React.JSX.Element {
    return (
        <div className="mx_ErrorView" role="alert">
            <h1>Your Element is misconfigured</h1>
            <p>{message}</p>
        </div>
    );
}

async function startSession(session: StoredSession, state: HostState, api: HostApi): Promise<MatrixClient> {
    const client = createClient({
        baseUrl: session.baseUrl,
        userId: session.userId,
        deviceId: session.deviceId,
        accessToken: session.accessToken,
    });
    await client.initRustCrypto();
    state.client = client;
    await client.startClient({ initialSyncLimit: 20 });
    const profile = await client.getProfileInfo(session.userId).catch(() => ({ displayname: undefined }));
    api.profile.value = { isGuest: false, userId: session.userId, displayName: profile.displayname ?? session.userId };
    return client;
}

async function main(): Promise<void> {
    window.React = React;
    const root = createRoot(document.getElementById("matrixchat")!);
    const state: HostState = { client: null };
    // Element's MatrixClientPeg exists before modules load; get() is null until a session is restored or made.
    window.mxMatrixClientPeg = {
        get: () => state.client,
        safeGet: () =>
            state.client ??
            (() => {
                throw new Error("User is not logged in");
            })(),
    };

    let config: Config;
    try {
        const res = await fetch("./config.json", { cache: "no-store" });
        config = (await res.json()) as Config;
    } catch (e) {
        root.render(<ErrorView message={`config.json could not be loaded: ${(e as Error).message}`} />);
        return;
    }

    const api = new HostApi(config, state);
    try {
        const loader = new ModuleLoader(api as unknown as Api);
        for (const url of config.modules ?? []) {
            const moduleExport = await import(/* webpackIgnore: true */ new URL(url, window.location.href).href);
            await loader.load(moduleExport);
        }
        await loader.start();
    } catch (e) {
        root.render(<ErrorView message={(e as Error).message} />);
        return;
    }

    const login = async (baseUrl: string, user: string, password: string): Promise<void> => {
        const response = await createClient({ baseUrl }).loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user },
            password,
            initial_device_display_name: "Element stand-in",
        });
        const session = {
            baseUrl,
            userId: response.user_id,
            deviceId: response.device_id,
            accessToken: response.access_token,
        };
        localStorage.setItem(SESSION_KEY, JSON.stringify(session));
        await startSession(session, state, api);
        render();
    };
    const logout = async (): Promise<void> => {
        await state.client?.logout(true).catch(() => undefined);
        state.client = null;
        localStorage.removeItem(SESSION_KEY);
        render();
    };

    const defaultBaseUrl = config.default_server_config?.["m.homeserver"]?.base_url ?? "";
    const render = () =>
        root.render(
            <App api={api} client={state.client} defaultBaseUrl={defaultBaseUrl} onLogin={login} onLogout={logout} />,
        );

    const stored = localStorage.getItem(SESSION_KEY);
    if (stored) {
        try {
            await startSession(JSON.parse(stored) as StoredSession, state, api);
        } catch (e) {
            console.error("Could not restore the stored session", e);
            localStorage.removeItem(SESSION_KEY);
            state.client = null;
        }
    }
    render();
}

void main();
