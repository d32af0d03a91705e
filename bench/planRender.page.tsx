/**
 * The benchmark's page (bundled on the fly by bench/planRender.ts): the plan review for a synthetic account of N
 * rooms, rendered with the same components Element shows, then scrolled. Figures land on `window.benchResult`.
 */
import React from "react";
import { createRoot } from "react-dom/client";
import { TooltipProvider } from "@vector-im/compound-web";

import { buildPlan, type MigrationPlan } from "../src/engine/plan.ts";
import type { RoomSource } from "../src/engine/snapshot.ts";
import { englishTranslate } from "../src/i18n/index.ts";
import { PlanReview } from "../src/ui/PlanReview.tsx";
import { avatarRenderer } from "../src/ui/RoomGroup.tsx";

const OLD = "@old:a.example";
const NEW = "@new:b.example";

function syntheticRoom(i: number): RoomSource {
    // A realistic mix: most rooms move; some where the old account moderates without the right to change levels,
    // some it may not invite to, a few direct chats.
    const kind = i % 20 === 0 ? "locked" : i % 10 === 0 ? "moderated" : i % 25 === 1 ? "dm" : "plain";
    const level = kind === "locked" ? 0 : kind === "moderated" ? 50 : 100;
    return {
        roomId: `!room${i}:a.example`,
        membership: "join",
        accountData: {},
        state: [
            { type: "m.room.create", state_key: "", sender: "@creator:a.example", content: { room_version: "10" } },
            ...(kind === "dm"
                ? []
                : [{ type: "m.room.name", state_key: "", sender: OLD, content: { name: `Room number ${i}` } }]),
            {
                type: "m.room.join_rules",
                state_key: "",
                sender: OLD,
                content: { join_rule: i % 3 === 0 ? "public" : "invite" },
            },
            {
                type: "m.room.power_levels",
                state_key: "",
                sender: OLD,
                content: { users: { [OLD]: level }, invite: 50, events: { "m.room.power_levels": 100 } },
            },
            { type: "m.room.member", state_key: OLD, sender: OLD, content: { membership: "join" } },
        ],
    };
}

const frame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

async function main(): Promise<void> {
    const count = Number(new URLSearchParams(location.search).get("rooms") ?? 1000);
    const rooms = Array.from({ length: count }, (_, i) => syntheticRoom(i));
    const direct = Object.fromEntries(
        rooms
            .filter((_, i) => i % 25 === 1 && i % 10 !== 0 && i % 20 !== 0)
            .map((r, i) => [`@friend${i}:a.example`, [r.roomId]]),
    );
    const plan: MigrationPlan = buildPlan({ userId: OLD, accountData: { "m.direct": direct }, rooms }, NEW);
    const root = createRoot(document.getElementById("root")!);
    const props = {
        t: englishTranslate,
        keys: null,
        busy: false,
        canStart: true,
        renderAvatar: avatarRenderer(undefined),
        displayName: () => undefined,
        copyText: async () => undefined,
        onRun: () => undefined,
    };
    let current = plan;
    const render = () =>
        root.render(
            <TooltipProvider>
                <PlanReview {...props} plan={current} onChange={(p) => ((current = p), render())} />
            </TooltipProvider>,
        );

    // Render: from handing React the plan to the first frame painted after it.
    const t0 = performance.now();
    render();
    await frame();
    await frame();
    const renderMs = performance.now() - t0;

    // Toggle one room: how long the page takes to answer a click on a list of N.
    const t1 = performance.now();
    (document.querySelector('input[type="checkbox"][aria-labelledby]') as HTMLInputElement).click();
    await frame();
    await frame();
    const toggleMs = performance.now() - t1;

    // Scroll through the whole list in steps of one screen; record each frame's duration.
    const frames: number[] = [];
    let last = await frame();
    for (let y = 0; y < document.documentElement.scrollHeight; y += window.innerHeight) {
        window.scrollTo(0, y);
        const now = await frame();
        frames.push(now - last);
        last = now;
    }
    frames.sort((a, b) => a - b);
    (window as unknown as { benchResult: unknown }).benchResult = {
        rooms: count,
        renderMs,
        toggleMs,
        scrollFrames: frames.length,
        scrollMedianMs: frames[Math.floor(frames.length / 2)],
        scrollP95Ms: frames[Math.floor(frames.length * 0.95)],
        scrollMaxMs: frames[frames.length - 1],
        domNodes: document.getElementsByTagName("*").length,
    };
}

void main();
