/**
 * Account-wide steps: profile, direct chats (m.direct), notification rules, ignored users, opted-in settings, and the
 * "moved" display name. Each merges into what the new account already has — nothing of the new account's is
 * overwritten — and does nothing when run again.
 */
import { BodyTooLargeError, orIfNotFound, readBodyCapped, seg } from "../sessions/matrixHttp.ts";
import { isNeverCopied } from "./accountDataPolicy.ts";
import type { AccountSession, MigrationContext } from "./context.ts";
import { nowSeconds } from "./journal.ts";
import { type RuleSet, pushRuleChanges } from "./pushRules.ts";

export interface Profile {
    displayname?: string;
    avatar_url?: string;
}

function readAccountData(
    ctx: MigrationContext,
    side: AccountSession,
    type: string,
): Promise<Record<string, unknown> | undefined> {
    const bucket = side === ctx.sides.old ? "old:read" : "new:read";
    return orIfNotFound(
        ctx.read<Record<string, unknown>>(bucket, side, `/user/${seg(side.userId)}/account_data/${seg(type)}`),
        undefined,
    );
}

async function writeAccountData(ctx: MigrationContext, type: string, content: unknown): Promise<void> {
    const neu = ctx.sides.new;
    await ctx.write("new:accountData", neu, "PUT", `/user/${seg(neu.userId)}/account_data/${seg(type)}`, {
        body: content,
    });
}

export function readProfile(ctx: MigrationContext, side: AccountSession): Promise<Profile> {
    return orIfNotFound(
        ctx.read<Profile>(side === ctx.sides.old ? "old:read" : "new:read", side, `/profile/${seg(side.userId)}`),
        {},
    );
}

/** Display name and avatar, before any join, so every room sees the new account with them from its first event. */
export async function copyProfile(ctx: MigrationContext, oldProfile: Profile): Promise<string[]> {
    const neu = ctx.sides.new;
    const current = await readProfile(ctx, neu);
    const changed: string[] = [];
    if (oldProfile.displayname && current.displayname !== oldProfile.displayname) {
        ctx.progress("profile", `Setting the new account's display name to “${oldProfile.displayname}”`);
        await ctx.write("new:profile", neu, "PUT", `/profile/${seg(neu.userId)}/displayname`, {
            body: { displayname: oldProfile.displayname },
        });
        changed.push("displayname");
    }
    const oldAvatar = oldProfile.avatar_url;
    const recorded = ctx.journal.journal.account.avatar;
    const alreadyCopied = recorded !== undefined && recorded.from === oldAvatar && recorded.to === current.avatar_url;
    if (oldAvatar && !alreadyCopied) {
        ctx.progress("profile", "Copying the avatar to the new server");
        const newAvatar = await copyMedia(ctx, oldAvatar);
        await ctx.write("new:profile", neu, "PUT", `/profile/${seg(neu.userId)}/avatar_url`, {
            body: { avatar_url: newAvatar },
        });
        ctx.journal.update((j) => (j.account.avatar = { from: oldAvatar, to: newAvatar }));
        changed.push("avatar");
    }
    ctx.journal.update((j) => (j.account.profile = nowSeconds()));
    return changed;
}

/** An avatar is a small picture; a server offering more than this is not sending one, and it is not downloaded. */
export const AVATAR_MAX_BYTES = 10 * 1024 * 1024;

/** Downloads a file with the old account (authenticated media) and uploads it with the new one. */
async function copyMedia(ctx: MigrationContext, mxc: string): Promise<string> {
    const match = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
    if (!match) throw new Error(`Not a Matrix content URI: ${mxc}`);
    const { old, new: neu } = ctx.sides;
    const response = await ctx.scheduler.run("old:media", () =>
        old.http.request<Response>("GET", `/download/${seg(match[1])}/${seg(match[2])}`, {
            prefix: "/_matrix/client/v1/media",
            raw: true,
        }),
    );
    let bytes: Uint8Array;
    try {
        bytes = await readBodyCapped(response, AVATAR_MAX_BYTES);
    } catch (e) {
        if (e instanceof BodyTooLargeError)
            throw new Error(
                `The old account's avatar is larger than ${AVATAR_MAX_BYTES / 1024 / 1024} MiB; it was not copied (set a smaller one on the new account)`,
            );
        throw e;
    }
    const type = response.headers.get("Content-Type") ?? "application/octet-stream";
    const uploaded = await ctx.write<{ content_uri: string }>("new:media", neu, "POST", "/upload", {
        prefix: "/_matrix/media/v3",
        query: { filename: "avatar" },
        body: bytes,
        headers: { "Content-Type": type },
    });
    if (!uploaded?.content_uri) throw new Error("The new server did not return a content URI for the uploaded avatar");
    return uploaded.content_uri;
}

/** m.direct: the new account's map gains each migrated direct chat; entries it already has stay. */
export async function mergeDirectRooms(
    ctx: MigrationContext,
    migratedDms: Array<{ roomId: string; partners: string[] }>,
): Promise<number> {
    if (!migratedDms.length) return 0;
    const current = ((await readAccountData(ctx, ctx.sides.new, "m.direct")) ?? {}) as Record<string, string[]>;
    const merged: Record<string, string[]> = Object.fromEntries(
        Object.entries(current).map(([k, v]) => [k, Array.isArray(v) ? [...v] : []]),
    );
    let added = 0;
    for (const { roomId, partners } of migratedDms) {
        for (const partner of partners) {
            // The old account is not a DM partner of the new one.
            if (partner === ctx.sides.new.userId) continue;
            const list = (merged[partner] ??= []);
            if (!list.includes(roomId)) {
                list.push(roomId);
                added++;
            }
        }
    }
    if (added) {
        ctx.progress("direct", `Marking ${added} direct chat(s) as direct for the new account`);
        await writeAccountData(ctx, "m.direct", merged);
    }
    ctx.journal.update((j) => (j.account.direct = nowSeconds()));
    return added;
}

export async function copyPushRules(
    ctx: MigrationContext,
    oldRules: RuleSet,
    includeRoomRule: (roomId: string) => boolean,
): Promise<number> {
    const neu = ctx.sides.new;
    const current = await ctx.read<{ global?: RuleSet }>("new:read", neu, "/pushrules/");
    const changes = pushRuleChanges(oldRules, current.global ?? {}, {
        includeRoomRule,
        copyDefaultChanges: ctx.plan.options.copyDefaultPushRuleChanges,
    });
    for (const { kind, rule } of changes.puts) {
        const body: Record<string, unknown> = { actions: rule.actions ?? [] };
        if (rule.conditions) body.conditions = rule.conditions;
        if (rule.pattern !== undefined) body.pattern = rule.pattern;
        const path = `/pushrules/global/${kind}/${seg(rule.rule_id)}`;
        await ctx.write("new:accountData", neu, "PUT", path, { body });
        // Re-sending a rule keeps its enabled flag on the server: set it whenever it differs from the old account's.
        const before = current.global?.[kind]?.find((r) => r.rule_id === rule.rule_id);
        const wanted = rule.enabled ?? true;
        if ((before ? (before.enabled ?? true) : true) !== wanted) {
            await ctx.write("new:accountData", neu, "PUT", `${path}/enabled`, { body: { enabled: wanted } });
        }
    }
    for (const change of changes.defaultChanges) {
        const path = `/pushrules/global/${change.kind}/${seg(change.ruleId)}`;
        if (change.actions)
            await ctx.write("new:accountData", neu, "PUT", `${path}/actions`, { body: { actions: change.actions } });
        if (change.enabled !== undefined)
            await ctx.write("new:accountData", neu, "PUT", `${path}/enabled`, { body: { enabled: change.enabled } });
    }
    const count = changes.puts.length + changes.defaultChanges.length;
    if (count) ctx.progress("push-rules", `Copied ${count} notification rule change(s)`);
    ctx.journal.update((j) => (j.account.pushRules = nowSeconds()));
    return count;
}

export async function mergeIgnoredUsers(
    ctx: MigrationContext,
    oldIgnored: Record<string, unknown> | undefined,
): Promise<number> {
    const wanted = Object.keys((oldIgnored?.ignored_users ?? {}) as Record<string, unknown>).filter(
        (u) => u !== ctx.sides.new.userId,
    );
    if (!wanted.length) return 0;
    const current = (await readAccountData(ctx, ctx.sides.new, "m.ignored_user_list")) ?? {};
    const ignored = { ...((current.ignored_users ?? {}) as Record<string, unknown>) };
    const missing = wanted.filter((u) => !(u in ignored));
    if (missing.length) {
        for (const u of missing) ignored[u] = {};
        ctx.progress("ignored-users", `Ignoring ${missing.length} user(s) on the new account too`);
        await writeAccountData(ctx, "m.ignored_user_list", { ...current, ignored_users: ignored });
    }
    ctx.journal.update((j) => (j.account.ignoredUsers = nowSeconds()));
    return missing.length;
}

/** Opted-in settings: the old content wins key by key, keys only the new account has stay. */
export async function copyOptionalAccountData(
    ctx: MigrationContext,
    oldData: Record<string, Record<string, unknown>>,
    types: string[],
): Promise<string[]> {
    const copied: string[] = [];
    for (const type of types) {
        // Checked again at the moment of writing: whatever the list offered, a secret or device-bound type never moves.
        if (isNeverCopied(type)) continue;
        const oldContent = oldData[type];
        if (!oldContent) continue;
        const current = (await readAccountData(ctx, ctx.sides.new, type)) ?? {};
        const merged = { ...current, ...oldContent };
        if (JSON.stringify(merged) === JSON.stringify(current)) continue;
        await writeAccountData(ctx, type, merged);
        copied.push(type);
    }
    if (copied.length) ctx.progress("account-data", `Copied ${copied.length} setting(s)`);
    ctx.journal.update(
        (j) =>
            (j.account.accountData = [
                ...new Set([...(j.account.accountData ?? []), ...types.filter((t) => !isNeverCopied(t))]),
            ]),
    );
    return copied;
}

/** The old display name gains "(moved to @new)", so people see the move wherever the old account appears. */
const movedSuffix = (newUserId: string) => `(moved to ${newUserId})`;

/**
 * The old account's profile as it was before this migration marked it moved: a run resumed after that step must not
 * hand the mark on to the new account.
 */
export function profileBeforeMove(profile: Profile, newUserId: string): Profile {
    const suffix = ` ${movedSuffix(newUserId)}`;
    return profile.displayname?.endsWith(suffix)
        ? { ...profile, displayname: profile.displayname.slice(0, -suffix.length) }
        : profile;
}

export async function markOldDisplayNameMoved(ctx: MigrationContext, oldProfile: Profile): Promise<void> {
    const { old, new: neu } = ctx.sides;
    const suffix = movedSuffix(neu.userId);
    const base = oldProfile.displayname ?? old.userId.slice(1, old.userId.indexOf(":"));
    if (base.endsWith(suffix)) return;
    ctx.progress("moved-name", "Adding “moved” to the old account's display name");
    await ctx.write("old:accountData", old, "PUT", `/profile/${seg(old.userId)}/displayname`, {
        body: { displayname: `${base} ${suffix}` },
    });
    ctx.journal.update((j) => (j.account.movedName = nowSeconds()));
}
