/**
 * The reduced form of the page's interruption trials (tests/proof/pageInterruption.ts; `npm run trials` closes the tab
 * at more points): a migration through the Element page whose tab is closed midway, continued from the journal in
 * Element opened again, ends exactly where an uninterrupted run through the page ends, never leaving a room unsafely.
 */
import { type HostServer, startHostServer } from "../../host/server.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { closeBrowsers } from "../browser/chromium.ts";
import {
    type PageTwin,
    closePoints,
    describePageTrial,
    pageInterruptionTrial,
    runPageTwin,
} from "./pageInterruption.ts";

let host: HostServer;
let twin: PageTwin;

beforeAll(async () => {
    const bed = currentBed();
    host = await startHostServer({
        config: {
            default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
        },
    });
    twin = await runPageTwin(bed, host);
}, 300_000);

afterAll(async () => {
    await closeBrowsers();
    await host?.close();
});

test("the tab closed midway, Element opened again continues the migration, and it ends where an uninterrupted run through the page ends", async () => {
    const result = await pageInterruptionTrial(currentBed(), host, twin, closePoints(twin, 1)[0]!);
    expect({ trial: describePageTrial(result, 0), problems: result.problems }).toMatchObject({ problems: [] });
    expect(result.closedAfterMs).toBeDefined();
}, 300_000);
