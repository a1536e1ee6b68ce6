// verify.mjs - check webhook deliveries with the real client libraries.
//
// One long-lived process per test session (tests/e2e/clients.py starts
// it): it reads one JSON request per line on stdin and writes one JSON
// answer per line on stdout, in order.
//
// {"op": "verify", "secret": "whsec_...", "headers": {...}, "body": B64,
//  "now": SECONDS?}
//     new Webhook(secret).verify(body, headers) from `standardwebhooks`,
//     the official Standard Webhooks library; "now" pins the clock (the
//     specification's test vector is from 2021).
//     -> {"ok": true} or {"ok": false, "error": "..."}
//
// {"op": "card", "body": B64}
//     A Teams message: its attachments[0].content is parsed with
//     Microsoft's `adaptivecards` SDK (new AdaptiveCard(), card.parse with
//     a SerializationContext), validated (card.validateProperties()), then
//     rendered under jsdom with markdown-it as the Markdown processor.
//     -> {"ok": true, "version": "1.4", "events": [...], "links": [...],
//         "tags": {"strong": N, ...}, "html": "...", "text": "..."}
//     events: every parse and validation event ("phase/event: message");
//     links: every <a> of the rendered card ({"href", "text"});
//     tags: how many of each element Markdown can make (links, emphasis,
//     code, lists, headings...) there are inside the rendered text blocks.
//     A body that is not such a message: {"ok": false, "error": "..."}.
//
// {"op": "markdown", "body": B64}
//     A slack message's text rendered by markdown-it as Mattermost and
//     Rocket.Chat, which take the slack format too, read it: as Markdown.
//     -> {"ok": true, "links": [...], "images": [...], "text": "..."}
//     links: every <a> ({"href", "text"}); images: every <img> src.
//
// Packages come from tests/node_modules (scripts/deps.sh runs npm ci).

import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const { JSDOM } = require("jsdom");

// The SDK renders into a browser DOM: give it jsdom's window before it
// loads (it reads window and document at render time).
const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>");
for (const name of ["window", "document", "navigator", "HTMLElement",
	"Node", "Element", "getComputedStyle", "MouseEvent",
	"KeyboardEvent", "Event", "DOMParser"]) {
	if (!(name in globalThis) || name === "window" || name === "document")
		Object.defineProperty(globalThis, name, {
			value: name === "window" ? dom.window : dom.window[name],
			configurable: true, writable: true,
		});
}

const { Webhook } = require("standardwebhooks");
// The package's lib/ is ES modules with extensionless imports, which
// Node cannot load; its dist/ bundle (UMD) is the same SDK.
const AC = require("adaptivecards/dist/adaptivecards.js");
const markdownit = require("markdown-it");

const md = markdownit();
AC.AdaptiveCard.onProcessMarkdown = (text, result) => {
	result.outputHtml = md.render(text);
	result.didProcess = true;
};

// Elements that Markdown (markdown-it's default rules) can make from text.
const FORMATTING = ["a", "strong", "em", "s", "del", "code", "pre", "img",
	"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
	"hr", "table"];

const MAX_VERSION = [1, 5];

function verify(req) {
	const body = Buffer.from(req.body, "base64");
	const realNow = Date.now;
	if (req.now !== undefined && req.now !== null)
		Date.now = () => req.now * 1000;
	try {
		new Webhook(req.secret).verify(body, req.headers);
		return { ok: true };
	} catch (e) {
		return { ok: false, error: String(e && e.message || e) };
	} finally {
		Date.now = realNow;
	}
}

function eventText(ev) {
	const phase = AC.ValidationPhase[ev.phase] ?? ev.phase;
	const kind = AC.ValidationEvent[ev.event] ?? ev.event;
	return `${phase}/${kind}: ${ev.message}`;
}

function card(req) {
	const msg = JSON.parse(Buffer.from(req.body, "base64").toString("utf8"));
	const att = msg && Array.isArray(msg.attachments) && msg.attachments[0];
	if (!att || att.contentType !== "application/vnd.microsoft.card.adaptive"
	    || typeof att.content !== "object" || att.content === null)
		return { ok: false, error: "no Adaptive Card in attachments[0]" };
	const json = att.content;
	const events = [];
	const context = new AC.SerializationContext();
	const ac = new AC.AdaptiveCard();
	ac.parse(json, context);
	for (let i = 0; i < context.eventCount; i++)
		events.push(eventText(context.getEventAt(i)));
	for (const ev of ac.validateProperties().validationEvents)
		events.push(eventText(ev));
	const v = ac.version;
	if (!v || !v.isValid)
		events.push(`version: not a version: ${json.version}`);
	else if (v.major > MAX_VERSION[0] ||
		 (v.major === MAX_VERSION[0] && v.minor > MAX_VERSION[1]))
		events.push(`version: ${v.toString()} is above 1.5`);

	const el = ac.render();
	if (!el)
		return { ok: true, version: String(json.version), events,
			 links: [], tags: {}, html: "", text: "",
			 error: "render() returned nothing" };
	dom.window.document.body.appendChild(el);
	const links = [...el.querySelectorAll("a")].map((a) => ({
		href: a.getAttribute("href"), text: a.textContent,
	}));
	// Inside the rendered text only (a FactSet is itself a <table>).
	const tags = {};
	for (const tb of el.querySelectorAll(".ac-textBlock"))
		for (const t of FORMATTING) {
			const n = tb.querySelectorAll(t).length;
			if (n)
				tags[t] = (tags[t] || 0) + n;
		}
	const out = { ok: true, version: String(json.version), events, links,
		      tags, html: el.outerHTML, text: el.textContent };
	el.remove();
	return out;
}

function markdown(req) {
	const msg = JSON.parse(Buffer.from(req.body, "base64").toString("utf8"));
	if (!msg || typeof msg.text !== "string")
		return { ok: false, error: "no text" };
	const el = dom.window.document.createElement("div");
	el.innerHTML = md.render(msg.text);
	const links = [...el.querySelectorAll("a")].map((a) => ({
		href: a.getAttribute("href"), text: a.textContent,
	}));
	const images = [...el.querySelectorAll("img")].map(
		(i) => i.getAttribute("src"));
	return { ok: true, links, images, text: el.textContent };
}

const ops = { verify, card, markdown };

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
	let out;
	try {
		const req = JSON.parse(line);
		const op = ops[req.op];
		out = op ? op(req) : { ok: false, error: `unknown op ${req.op}` };
	} catch (e) {
		out = { ok: false, error: `helper: ${e && e.stack || e}` };
	}
	process.stdout.write(JSON.stringify(out) + "\n");
});
