/**
 * The host's screens. Where Element's behaviour matters to a module it is copied in kind (not in code):
 * - routing: `#/<screen>`; built-in screens first (here: `room/<id>`), then an exact match on a module's location
 *   renderer; an unknown screen changes nothing. While a module page shows, the room list is hidden and the space
 *   panel stays.
 * - space panel: module items after the built-in ones, as `li.mx_SpaceItem > div.mx_SpaceButton[role=button]`;
 *   a click marks the item active, then calls its onSelected.
 * - composer preview: the composer's plain text, debounced 500 ms (at once when emptied), goes to each registered
 *   filter; the first match renders above the input with {text, roomId}.
 * - Enter on `/something` Element does not know opens "Unknown Command" with "Send as message" and "Cancel".
 */
import React, { useCallback, useEffect, useMemo, useState } from "react";
import { ClientEvent, type MatrixClient, RoomEvent } from "matrix-js-sdk";

import type { HostApi } from "./api.ts";
import type { OpenDialogRequest } from "./events.ts";

function screenFromHash(): string {
    return decodeURIComponent(window.location.hash.replace(/^#\/?/, "").split("?")[0]);
}

type Screen = { page: string | null; roomId: string | null };

function useScreen(api: HostApi): Screen {
    const resolve = useCallback(
        (current: Screen): Screen => {
            const screen = screenFromHash();
            if (screen.startsWith("room/")) return { page: null, roomId: screen.slice("room/".length) };
            if (screen === "home") return { page: null, roomId: null };
            if (api.locationRenderers.has(screen)) return { page: screen, roomId: null };
            return current; // Element ignores screens it does not know.
        },
        [api],
    );
    const [state, setState] = useState(() => resolve({ page: null, roomId: null }));
    useEffect(() => {
        const onHash = () => setState((s) => resolve(s));
        window.addEventListener("hashchange", onHash);
        return () => window.removeEventListener("hashchange", onHash);
    }, [resolve]);
    return state;
}

function useClientUpdates(client: MatrixClient | null): number {
    const [tick, setTick] = useState(0);
    useEffect(() => {
        if (!client) return;
        const bump = () => setTick((t) => t + 1);
        client.on(ClientEvent.Sync, bump);
        client.on(ClientEvent.Room, bump);
        client.on(RoomEvent.Timeline, bump);
        client.on(RoomEvent.MyMembership, bump);
        return () => {
            client.off(ClientEvent.Sync, bump);
            client.off(ClientEvent.Room, bump);
            client.off(RoomEvent.Timeline, bump);
            client.off(RoomEvent.MyMembership, bump);
        };
    }, [client]);
    return tick;
}

function Login({
    defaultBaseUrl,
    onLogin,
}: {
    defaultBaseUrl: string;
    onLogin(b: string, u: string, p: string): Promise<void>;
}) {
    const [baseUrl, setBaseUrl] = useState(defaultBaseUrl);
    const [user, setUser] = useState("");
    const [password, setPassword] = useState("");
    const [error, setError] = useState<string | null>(null);
    const [busy, setBusy] = useState(false);
    return (
        <form
            className="mx_Login"
            onSubmit={(e) => {
                e.preventDefault();
                setBusy(true);
                setError(null);
                onLogin(baseUrl, user, password).catch((err: Error) => {
                    setError(err.message);
                    setBusy(false);
                });
            }}
        >
            <h1>Sign in</h1>
            <label>
                Homeserver URL <input name="baseUrl" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} />
            </label>
            <label>
                Username{" "}
                <input name="username" value={user} onChange={(e) => setUser(e.target.value)} autoComplete="username" />
            </label>
            <label>
                Password
                <input
                    name="password"
                    type="password"
                    value={password}
                    onChange={(e) => setPassword(e.target.value)}
                    autoComplete="current-password"
                />
            </label>
            {error && <p role="alert">{error}</p>}
            <button type="submit" disabled={busy}>
                Sign in
            </button>
        </form>
    );
}

/** Element's AccessibleButton: Enter and Space activate a div with role=button. */
function activateOnKey(activate: () => void) {
    return (e: React.KeyboardEvent) => {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        activate();
    };
}

function SpacePanel({
    api,
    activeKey,
    onSelect,
}: {
    api: HostApi;
    activeKey: string | null;
    onSelect(key: string | null): void;
}) {
    const [, setVersion] = useState(0);
    // Element's Home space opens the home page (and its room list).
    const goHome = () => {
        onSelect(null);
        window.location.assign("#/home");
    };
    useEffect(() => api.events.on("spacePanelItemsChanged", () => setVersion((v) => v + 1)), [api]);
    return (
        <nav className="mx_SpacePanel">
            <ul className="mx_SpaceTreeLevel" role="tree" aria-label="Spaces">
                <li className="mx_SpaceItem" role="treeitem" aria-selected={activeKey === null}>
                    <div
                        className={`mx_SpaceButton ${activeKey === null ? "mx_SpaceButton_active" : ""}`}
                        role="button"
                        tabIndex={0}
                        aria-label="Home"
                        onClick={goHome}
                        onKeyDown={activateOnKey(goHome)}
                    >
                        ⌂<span className="mx_SpaceButton_name">Home</span>
                    </div>
                </li>
                {[...api.spacePanelItems.entries()].map(([key, item]) => (
                    <li key={key} className="mx_SpaceItem" role="treeitem" aria-selected={false}>
                        <div
                            className={`mx_SpaceButton ${item.className ?? ""} ${activeKey === key ? "mx_SpaceButton_active" : ""}`}
                            role="button"
                            tabIndex={0}
                            aria-label={item.label}
                            style={item.style}
                            onClick={() => {
                                onSelect(key);
                                item.onSelected();
                            }}
                            onKeyDown={activateOnKey(() => {
                                onSelect(key);
                                item.onSelected();
                            })}
                        >
                            <div className="mx_SpaceButton_icon">{item.icon}</div>
                            <span className="mx_SpaceButton_name">{item.label}</span>
                        </div>
                    </li>
                ))}
            </ul>
        </nav>
    );
}

function RoomList({ client }: { client: MatrixClient }) {
    const rooms = client
        .getRooms()
        .filter((r) => r.getMyMembership() === "join" || r.getMyMembership() === "invite")
        .sort((a, b) => a.name.localeCompare(b.name));
    return (
        <aside className="mx_LeftPanel" aria-label="Rooms">
            <ul>
                {rooms.map((room) => (
                    <li key={room.roomId}>
                        <a href={`#/room/${encodeURIComponent(room.roomId)}`}>
                            {room.name}
                            {room.getMyMembership() === "invite" ? " (invite)" : ""}
                        </a>
                    </li>
                ))}
            </ul>
        </aside>
    );
}

function UnknownCommandDialog({ text, onSend, onCancel }: { text: string; onSend(): void; onCancel(): void }) {
    return (
        <div className="mx_Dialog_background">
            <div className="mx_Dialog" role="dialog" aria-labelledby="mx_BaseDialog_title">
                <h1 id="mx_BaseDialog_title">Unknown Command</h1>
                <p>Unrecognised command: {text}</p>
                <p>
                    You can use <code>/help</code> to list available commands. Did you mean to send this as a message?
                </p>
                <p>
                    Hint: Begin your message with <code>//</code> to start it with a slash.
                </p>
                <button onClick={onCancel}>Cancel</button> <button onClick={onSend}>Send as message</button>
            </div>
        </div>
    );
}

function RoomView({ api, client, roomId }: { api: HostApi; client: MatrixClient; roomId: string }) {
    const room = client.getRoom(roomId);
    const [text, setText] = useState("");
    const [previewText, setPreviewText] = useState("");
    const [unknownCommand, setUnknownCommand] = useState<string | null>(null);

    useEffect(() => api.events.on("insertIntoComposer", (inserted) => setText((t) => t + inserted)), [api]);
    useEffect(() => {
        // Element debounces the preview; an emptied composer clears it at once.
        const timer = setTimeout(() => setPreviewText(text), text === "" ? 0 : 500);
        return () => clearTimeout(timer);
    }, [text]);

    const send = (body: string) => {
        void client.sendTextMessage(roomId, body);
        setText("");
    };
    const preview = useMemo(() => {
        const match = api.composerPreviews.find((p) => {
            try {
                return p.filter(previewText, roomId);
            } catch (e) {
                console.error("Composer preview filter failed", e);
                return false;
            }
        });
        return match ? match.render({ text: previewText, roomId }, () => <></>) : null;
    }, [api, previewText, roomId]);

    if (!room) return <p>Room not found</p>;
    const events = room
        .getLiveTimeline()
        .getEvents()
        .filter((e) => e.getType() === "m.room.message");
    return (
        <>
            <h2>{room.name}</h2>
            <div className="mx_RoomView_timeline">
                {events.map((e) => (
                    <p key={e.getId()}>
                        <b>{e.getSender()}</b>:{" "}
                        {e.getContent().body ?? (e.isDecryptionFailure() ? "(unable to decrypt)" : "")}
                    </p>
                ))}
            </div>
            <div className="mx_MessageComposer_wrapper">
                {preview}
                <textarea
                    aria-label="Send a message…"
                    value={text}
                    onChange={(e) => setText(e.target.value)}
                    onKeyDown={(e) => {
                        if (e.key !== "Enter" || e.shiftKey) return;
                        e.preventDefault();
                        if (!text.trim()) return;
                        if (text.startsWith("/") && !text.startsWith("//")) setUnknownCommand(text);
                        else send(text.startsWith("//") ? text.slice(1) : text);
                    }}
                />
            </div>
            {unknownCommand !== null && (
                <UnknownCommandDialog
                    text={unknownCommand}
                    onCancel={() => setUnknownCommand(null)}
                    onSend={() => {
                        send(unknownCommand);
                        setUnknownCommand(null);
                    }}
                />
            )}
        </>
    );
}

function Dialogs({ api }: { api: HostApi }) {
    const [dialogs, setDialogs] = useState<OpenDialogRequest[]>([]);
    useEffect(() => {
        const offOpen = api.events.on("openDialog", (d) => setDialogs((all) => [...all, d]));
        const offClose = api.events.on("closeDialog", (id) => setDialogs((all) => all.filter((d) => d.id !== id)));
        return () => {
            offOpen();
            offClose();
        };
    }, [api]);
    return (
        <>
            {dialogs.map(({ id, title, Component, props, onClose }) => (
                <div key={id} className="mx_Dialog_background">
                    <div className="mx_Dialog" role="dialog" aria-labelledby={`title-${id}`}>
                        <h1 id={`title-${id}`}>{title}</h1>
                        <Component {...props} />
                        <button aria-label="Close dialog" onClick={onClose}>
                            ×
                        </button>
                    </div>
                </div>
            ))}
        </>
    );
}

export interface AppProps {
    api: HostApi;
    client: MatrixClient | null;
    defaultBaseUrl: string;
    onLogin(baseUrl: string, user: string, password: string): Promise<void>;
    onLogout(): Promise<void>;
}

export function App({ api, client, defaultBaseUrl, onLogin, onLogout }: AppProps): React.JSX.Element {
    const { page, roomId } = useScreen(api);
    const [activeSpace, setActiveSpace] = useState<string | null>(null);
    useClientUpdates(client);
    if (!client) return <Login defaultBaseUrl={defaultBaseUrl} onLogin={onLogin} />;
    const renderer = page ? api.locationRenderers.get(page) : undefined;
    return (
        <div className="mx_MatrixChat">
            <SpacePanel api={api} activeKey={activeSpace} onSelect={setActiveSpace} />
            {!renderer && <RoomList client={client} />}
            <div className="mx_RoomView_wrapper">
                <header>
                    Signed in as <span data-testid="host-user">{client.getUserId()}</span>{" "}
                    <button onClick={() => void onLogout()}>Sign out</button>
                </header>
                {renderer ? (
                    renderer()
                ) : roomId ? (
                    <RoomView api={api} client={client} roomId={roomId} />
                ) : (
                    <p>Pick a room.</p>
                )}
            </div>
            <Dialogs api={api} />
        </div>
    );
}
