/**
 * A person at the real MAS's own HTML pages, without a browser: a cookie jar, redirects followed by hand, the CSRF
 * token read from each form. Enough to type a device code at `/link`, sign in, and consent (or refuse), and to
 * approve an authorization-code request — the same pages and forms a person's browser would submit.
 */
interface PageAnswer {
    status: number;
    url: string;
    location?: string;
    html: string;
}

export class MasPerson {
    private readonly jar = new Map<string, string>();

    constructor(
        private readonly localpart: string,
        private readonly password: string,
    ) {}

    private async go(url: string, form?: Record<string, string>): Promise<PageAnswer> {
        const headers: Record<string, string> = {
            accept: "text/html",
            cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join("; "),
        };
        if (form) headers["content-type"] = "application/x-www-form-urlencoded";
        const res = await fetch(url, {
            method: form ? "POST" : "GET",
            headers,
            body: form ? new URLSearchParams(form).toString() : undefined,
            redirect: "manual",
        });
        for (const cookie of res.headers.getSetCookie()) {
            const [pair] = cookie.split(";");
            const eq = pair.indexOf("=");
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            if (!value || /max-age=0/i.test(cookie)) this.jar.delete(name);
            else this.jar.set(name, value);
        }
        const location = res.headers.get("location");
        return {
            status: res.status,
            url,
            location: location ? new URL(location, url).href : undefined,
            html: await res.text(),
        };
    }

    /** GETs until a page (or a redirect to `stopAt`, returned as it is). */
    private async follow(url: string, stopAt?: string): Promise<PageAnswer> {
        let page = await this.go(url);
        for (let i = 0; i < 10 && page.location; i++) {
            if (stopAt && page.location.startsWith(stopAt)) return page;
            page = await this.go(page.location);
        }
        return page;
    }

    private static csrf(page: PageAnswer): string {
        const token = /name="csrf"\s+value="([^"]+)"/.exec(page.html)?.[1];
        if (!token) throw new Error(`MAS page ${page.url} (${page.status}) has no form`);
        return token;
    }

    /** Signs in at MAS's login form if `page` is it; returns the page after. */
    private async signInIfAsked(page: PageAnswer, stopAt?: string): Promise<PageAnswer> {
        if (!/\/login/.test(new URL(page.url).pathname)) return page;
        const after = await this.go(page.url, {
            csrf: MasPerson.csrf(page),
            username: this.localpart,
            password: this.password,
        });
        if (!after.location) throw new Error(`MAS refused the sign-in of ${this.localpart} (${after.status})`);
        return this.follow(after.location, stopAt);
    }

    /** Types `userCode` at the verification page, signs in, and consents (or refuses) to the device. */
    async answerDeviceCode(verificationUri: string, userCode: string, action: "consent" | "reject"): Promise<void> {
        const link = await this.follow(verificationUri);
        const typed = await this.go(link.url, { csrf: MasPerson.csrf(link), code: userCode });
        if (!typed.location) throw new Error(`MAS did not take the code ${userCode} (${typed.status})`);
        const consent = await this.signInIfAsked(await this.follow(typed.location));
        if (!/name="action" value="consent"/.test(consent.html))
            throw new Error(`no device consent form at ${consent.url} (${consent.status})`);
        const answered = await this.go(consent.url, {
            csrf: MasPerson.csrf(consent),
            action,
            ...(action === "consent" ? { confirm_device: "on" } : {}),
        });
        if (answered.status >= 400) throw new Error(`MAS answered the consent with ${answered.status}`);
    }

    /** Opens an authorization URL, signs in, consents; returns where MAS sends the browser back (the redirect). */
    async approveAuthorization(url: string, redirectPrefix: string): Promise<string> {
        let page = await this.signInIfAsked(await this.follow(url, redirectPrefix), redirectPrefix);
        if (page.location?.startsWith(redirectPrefix)) return page.location;
        if (page.status !== 200) throw new Error(`MAS refused the authorization request (${page.status})`);
        page = await this.go(page.url, { csrf: MasPerson.csrf(page) });
        if (page.location && !page.location.startsWith(redirectPrefix))
            page = await this.follow(page.location, redirectPrefix);
        if (!page.location?.startsWith(redirectPrefix)) throw new Error(`MAS did not redirect back (${page.status})`);
        return page.location;
    }
}
