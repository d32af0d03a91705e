/**
 * What the migration screens get from the Element adapter (src/element): words, the runtime, and the few things only
 * Element can do (avatars, display names, the space-panel entry, files, clipboard). Types only — the adapter fills
 * it in the entry file, the screens load later in their own chunk.
 */
import type React from "react";

import type { MigrationOptions } from "../engine/plan.ts";
import type { Translate } from "../i18n/index.ts";
import type { MigrationRuntime, SignInWindow } from "./runtime.ts";

/** What the space-panel entry shows while a migration runs in the background. */
export interface EntryProgress {
    done: number;
    total: number;
    paused: boolean;
}

export interface PageHost {
    t: Translate;
    /** The logged-in (old) account, or null while Element has no client yet. */
    oldUserId(): string | null;
    /** Element's device of the old account (a journal heartbeat from another one means "running elsewhere"). */
    oldDeviceId?(): string | null;
    defaultOptions: Partial<MigrationOptions>;
    loadRuntime(): Promise<MigrationRuntime>;
    /**
     * Opens a popup for a sign-in or approval page of the new account's server, synchronously inside the click that
     * asks for it (browsers block later ones); null when the browser blocked it.
     */
    openSignInWindow(): SignInWindow | null;
    /** The journal document from the old account's account data, as Element has synced it (or undefined). */
    readJournal(): unknown;
    /** Calls back when Element syncs a new journal (e.g. the first sync after the page opened); returns unsubscribe. */
    watchJournal(onChange: () => void): () => void;
    /** Element's own room avatar, where the host offers one. */
    renderRoomAvatar?(roomId: string): React.ReactNode;
    /** A member's display name in a room, as Element shows it (for direct chats). */
    displayName(roomId: string, userId: string): string | undefined;
    /** The space-panel entry: a progress ring while a run is live, the plain icon otherwise. */
    showProgress(progress: EntryProgress | null): void;
    /** Offers a file to the user (a download in the browser). */
    saveFile(name: string, content: string | Blob, type: string): void;
    copyText(text: string): Promise<void>;
}
