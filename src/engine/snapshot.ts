/**
 * What the engine knows about the old account before acting: plain data built from state the old client already
 * has (Element's synced client, or one /sync in the CLI). Planning reads only this — no per-room requests.
 */

export interface StateEvent {
    type: string;
    state_key: string;
    sender: string;
    content: Record<string, unknown>;
}

/** One room as the old account sees it: its current state plus the old account's room-level account data. */
export interface RoomSource {
    roomId: string;
    membership: "join" | "invite";
    /** Full current state for joined rooms; the stripped invite state for invites. */
    state: StateEvent[];
    /** Room-level account data of the old account (m.tag, …), by type. */
    accountData: Record<string, Record<string, unknown>>;
}

export interface AccountSnapshot {
    userId: string;
    rooms: RoomSource[];
    /** Global account data of the old account, by type (includes m.direct, m.push_rules, m.ignored_user_list). */
    accountData: Record<string, Record<string, unknown>>;
}

/** Convenience view over a room's state. */
export class RoomState {
    private readonly byKey = new Map<string, StateEvent>();

    public constructor(public readonly source: RoomSource) {
        for (const event of source.state) this.byKey.set(`${event.type}\u0000${event.state_key}`, event);
    }

    public get(type: string, stateKey = ""): StateEvent | undefined {
        return this.byKey.get(`${type}\u0000${stateKey}`);
    }

    public content(type: string, stateKey = ""): Record<string, unknown> | undefined {
        return this.get(type, stateKey)?.content;
    }

    public all(type: string): StateEvent[] {
        return this.source.state.filter((e) => e.type === type);
    }

    public membership(userId: string): string | undefined {
        const m = this.content("m.room.member", userId)?.membership;
        return typeof m === "string" ? m : undefined;
    }

    public get name(): string {
        const name = this.content("m.room.name")?.name;
        if (typeof name === "string" && name.trim()) return name.trim();
        const alias = this.content("m.room.canonical_alias")?.alias;
        if (typeof alias === "string") return alias;
        return this.source.roomId;
    }

    public get roomVersion(): string {
        const v = this.content("m.room.create")?.room_version;
        return typeof v === "string" ? v : "1";
    }

    public get joinedMembers(): string[] {
        return this.all("m.room.member")
            .filter((e) => e.content.membership === "join")
            .map((e) => e.state_key);
    }
}
