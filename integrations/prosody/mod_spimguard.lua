-- mod_spimguard.lua -- Prosody 0.12 module: asks a `spimguard serve` daemon
-- about every chat/normal message delivered to a local user, then delivers
-- it, delivers it with a warning, holds it for the operator, or drops it
-- with an error to the sender.  Enforces account actions (a locked or
-- suspended sender's messages are not delivered) and forwards XEP-0377 spam
-- reports sent inside XEP-0191 blocks to the daemon's /v1/report.
-- Setup and options: docs/daemon.md ("Prosody").  Licence: as spimguard.
--
-- Options (module:get_option_*):
--   spimguard_url            daemon base URL        "http://127.0.0.1:8750"
--   spimguard_token          bearer token           $SPIMGUARD_TOKEN or none
--   spimguard_timeout        seconds to wait        0.5
--   spimguard_fail_open      deliver when the daemon fails (false: bounce)
--                                                   true
--   spimguard_warning_prefix text put before a warned body
--   spimguard_recheck        seconds before a blocked account is asked
--                            about again (an operator may have reset it)  60

local http = require "net.http";
local async = require "util.async";
local promise = require "util.promise";
local timer = require "util.timer";
local json = require "util.json";
local st = require "util.stanza";
local jid_util = require "util.jid";
local new_cache = require "util.cache".new;
local new_id = require "util.id".short;
local rostermanager = require "core.rostermanager";

local NS = "urn:spimguard:0";
local NS_BLOCK = "urn:xmpp:blocking";
local NS_REPORT1, NS_REPORT0 = "urn:xmpp:reporting:1", "urn:xmpp:reporting:0";
local NS_SID = "urn:xmpp:sid:0";

local base_url = module:get_option_string("spimguard_url", "http://127.0.0.1:8750"):gsub("/+$", "");
local token = module:get_option_string("spimguard_token", os.getenv("SPIMGUARD_TOKEN"));
local timeout = module:get_option_number("spimguard_timeout", 0.5);
local fail_open = module:get_option_boolean("spimguard_fail_open", true);
local warn_prefix = module:get_option_string("spimguard_warning_prefix",
	"[Warning: this message looks suspicious. Do not open its links or share passwords.] ");
local recheck = module:get_option_number("spimguard_recheck", 60);

local held_store = module:open_store("spimguard_held", "archive");
local blocked_store = module:open_store("spimguard_blocked");

-- Accounts the daemon asked to lock or suspend: bare JID -> { action, checked }.
local blocked = {};
-- Last message id the daemon saw from sender to recipient, for reports
-- that do not name a stanza: "recipient\0sender" -> id.
local last_ids = new_cache(10000);
-- Senders known not to be blocked (saves a storage read per message).
local not_blocked = new_cache(10000);
local boot = new_id();
local counter = 0;

local function headers()
	local h = { ["Content-Type"] = "application/json" };
	if token and token ~= "" then h["Authorization"] = "Bearer " .. token; end
	return h;
end

-- net.http in 0.12 has no request timeout: race it against a timer.
local function request(method, path, body)
	local p = http.request(base_url .. path, { method = method, body = body, headers = headers() });
	local t = promise.new(function (_, reject)
		timer.add_task(timeout, function () reject("timeout after " .. timeout .. " s"); end);
	end);
	return promise.race({ p, t });
end

local function is_local(bare)
	local node, host = jid_util.split(bare);
	return node and prosody.hosts[host] and prosody.hosts[host].type == "local";
end

local function block_account(from, action)
	blocked[from] = { action = action, checked = os.time() };
	not_blocked:set(from, nil);
	local node, host = jid_util.split(from);
	if host == module.host then blocked_store:set(node, { action = action, since = os.time() }); end
	module:log("warn", "spimguard: account %s blocked (%s)", from, action);
end

local function unblock_account(from)
	blocked[from] = nil;
	local node, host = jid_util.split(from);
	if host == module.host then blocked_store:set(node, nil); end
	module:log("info", "spimguard: account %s unblocked", from);
end

-- Is `from` blocked?  A local account's block is loaded from storage once
-- (negative answers are cached), and the daemon is asked again after
-- `recheck` seconds, since an operator may have reset the account.
local function is_blocked(from)
	local b = blocked[from];
	if b == nil then
		if not_blocked:get(from) then return false; end
		local node, host = jid_util.split(from);
		local saved = host == module.host and node and blocked_store:get(node);
		if not saved then not_blocked:set(from, true); return false; end
		b = { action = saved.action, checked = 0 };
		blocked[from] = b;
	end
	if os.time() - b.checked >= recheck and async.ready() then
		b.checked = os.time();
		local resp = async.wait_for(request("GET", "/v1/accounts/" .. from));
		if resp and resp.code == 200 then
			local a = json.decode(resp.body);
			if a and a.delivery_blocked == false then unblock_account(from); return false; end
		end
	end
	return true;
end

local function bounce(event, error_type, condition, text)
	local origin, stanza = event.origin, event.stanza;
	local reply = st.error_reply(stanza, error_type, condition, text, module.host);
	if origin.type == "c2s" then origin.send(reply); else module:send(reply); end
	return true;
end

local function bounce_blocked(event, from)
	local what = blocked[from] and blocked[from].action == "suspend" and "suspended" or "locked";
	return bounce(event, "auth", "forbidden", "Your account is " .. what ..
		(what == "locked" and ": reset your password to unlock it." or "."));
end

-- The JSON the daemon gets for one message.
local function message_json(event, from, to, text)
	local stanza, origin = event.stanza, event.origin;
	local to_node, to_host = jid_util.split(to);
	local roster = to_node and rostermanager.load_roster(to_node, to_host);
	counter = counter + 1;
	local id = boot .. "-" .. counter;
	local m = { id = id, from = from, to = to, text = text, contact = (roster and roster[from]) ~= nil };
	if origin.type == "c2s" and origin.ip then m.client_ip = origin.ip; end
	if stanza.attr.id then m.xmpp_id = stanza.attr.id; end
	return id, json.encode(m);
end

local function warn(stanza, verdict)
	stanza:maptags(function (tag)
		if tag.name == "body" and (tag.attr.xmlns == nil or tag.attr.xmlns == "jabber:client") then
			return st.stanza("body", tag.attr):text(warn_prefix .. tag:get_text());
		end
		return tag;
	end);
	local labels = table.concat(verdict.labels or {}, " ");
	local mark = st.stanza("spimguard", { xmlns = NS, action = verdict.action,
		score = tostring(verdict.score), labels = labels });
	for _, r in ipairs(verdict.reasons or {}) do
		if (r.weight or 0) > 0 then
			mark:text_tag("reason", r.detail or "", { code = r.code, weight = tostring(r.weight) });
		end
	end
	stanza:add_child(mark);
end

-- A held message is kept with the daemon's verdict attached (a <held/>
-- child in our namespace: message id, action, score, labels, reasons), so
-- the operator sees why, and a release can tell the daemon it was ham.
local function hold(event, verdict, to)
	local node = jid_util.split(to);
	local kept = st.clone(event.stanza);
	local why = st.stanza("held", { xmlns = NS, id = verdict.id, action = verdict.action,
		score = tostring(verdict.score), labels = table.concat(verdict.labels or {}, " "),
		account_action = verdict.account_action });
	for _, r in ipairs(verdict.reasons or {}) do
		if (r.weight or 0) > 0 then why:text_tag("reason", r.detail or "", { code = r.code }); end
	end
	kept:add_child(why);
	local ok, err = held_store:append(node, nil, kept, os.time(), event.stanza.attr.from);
	module:log("info", "spimguard: held message from %s to %s (score %s): %s",
		event.stanza.attr.from, to, tostring(verdict.score), ok and "kept" or tostring(err));
	return true;
end

-- Apply a verdict; returns true when the stanza must not be delivered.
-- The message that gets its sender locked or suspended is held (kept for
-- the operator) whatever its own action; later ones bounce (is_blocked).
local function apply(event, verdict, from, to)
	local action, aa = verdict.action, verdict.account_action;
	if aa == "lock_and_reset" or aa == "suspend" then
		block_account(from, aa);
		if action ~= "drop" then action = "hold"; end
	end
	if action == "warn" then warn(event.stanza, verdict); return nil; end
	if action == "hold" then return hold(event, verdict, to); end
	if action == "drop" then
		return bounce(event, "modify", "policy-violation",
			"Message not delivered: it was judged to be spam or phishing.");
	end
	return nil;
end

local function on_failure(event, err)
	module:log("warn", "spimguard: daemon unavailable (%s): %s", tostring(err),
		fail_open and "delivering" or "bouncing");
	if fail_open then return nil; end
	return bounce(event, "wait", "service-unavailable", "Message checking is unavailable; try again later.");
end

local function strip_marks(stanza)
	stanza:maptags(function (tag)
		if tag.attr.xmlns == NS then return nil; end -- <spimguard/>, <held/>, <released/>
		return tag;
	end);
end

-- Secret carried by a message the operator released (console below), so
-- that it is delivered without being judged again; a client cannot know it.
local release_secret = new_id() .. new_id();

local function is_release(stanza)
	local r = stanza:get_child("released", NS);
	return r ~= nil and r.attr.secret == release_secret;
end

local function check_message(event)
	local stanza = event.stanza;
	local t = stanza.attr.type or "normal";
	if t ~= "chat" and t ~= "normal" then return nil; end
	local released = is_release(stanza);
	strip_marks(stanza); -- a client must not forge our mark
	if released then return nil; end
	local body = stanza:get_child_text("body");
	local from, to = jid_util.bare(stanza.attr.from), jid_util.bare(stanza.attr.to);
	if not body or body == "" or not from or not to or from == to then return nil; end
	if not jid_util.node(from) then return nil; end -- from a server or component
	if is_blocked(from) then return bounce_blocked(event, from); end
	if not async.ready() then return on_failure(event, "not in an async runner"); end
	local id, payload = message_json(event, from, to, body);
	local resp, err = async.wait_for(request("POST", "/v1/check", payload));
	if not resp then return on_failure(event, err); end
	if resp.code ~= 200 then return on_failure(event, "HTTP " .. resp.code .. " " .. tostring(resp.body)); end
	local verdict = json.decode(resp.body);
	if type(verdict) ~= "table" then return on_failure(event, "bad JSON from daemon"); end
	last_ids:set(to .. "\0" .. from, id);
	return apply(event, verdict, from, to);
end

-- A local sender that is blocked is stopped before routing (also towards
-- remote servers).
local function check_outgoing(event)
	local from = jid_util.bare(event.stanza.attr.from or (event.origin.username .. "@" .. event.origin.host));
	local t = event.stanza.attr.type or "normal";
	if (t == "chat" or t == "normal") and event.stanza:get_child("body") and is_blocked(from) then
		return bounce_blocked(event, from);
	end
end

-- XEP-0377 reports inside a XEP-0191 block: forward, let mod_blocklist do
-- the blocking itself.
local function report_label(report)
	if report.attr.xmlns == NS_REPORT1 then
		local reason = report.attr.reason or "";
		return (reason:match("spam$") or reason:match("abuse$")) and "spam" or nil;
	end
	return (report:get_child("spam") or report:get_child("abuse")) and "spam" or nil;
end

local function on_block(event)
	local origin, stanza = event.origin, event.stanza;
	local reporter = origin.username .. "@" .. origin.host;
	local block = stanza:get_child("block", NS_BLOCK);
	for item in block:childtags("item") do
		local report = item:get_child("report", NS_REPORT1) or item:get_child("report", NS_REPORT0);
		local account = item.attr.jid and jid_util.bare(item.attr.jid);
		local label = report and report_label(report);
		if label and account then
			local sid = report:get_child("stanza-id", NS_SID);
			local r = { reporter = reporter, account = account, label = label,
				id = last_ids:get(reporter .. "\0" .. account),
				xmpp_stanza_id = sid and sid.attr.id, comment = report:get_child_text("text") };
			request("POST", "/v1/report", json.encode(r)):next(function (resp)
				module:log("info", "spimguard: report by %s about %s: HTTP %s", reporter, account, tostring(resp.code));
			end, function (err)
				module:log("warn", "spimguard: report by %s about %s failed: %s", reporter, account, tostring(err));
			end);
		end
	end
	return nil;
end

-- ------------------------------------------------------------------
-- The operator's console for held messages (Prosody's admin shell, with
-- mod_admin_shell and mod_admin_socket loaded):
--   prosodyctl shell spimguard held HOST [USER]     list what is held
--   prosodyctl shell spimguard release HOST USER ID deliver it to USER and
--                                                   report it as not spam
--   prosodyctl shell spimguard discard HOST USER ID delete it
-- HOST is the recipient's virtual host, USER the recipient's local part,
-- ID the archive key that `held` prints.

local function held_users(user)
	if user then return { user }; end
	local list = {};
	if not held_store.users then return list; end -- backend cannot enumerate: name the user
	for u in held_store:users() do list[#list + 1] = u; end
	table.sort(list);
	return list;
end

-- Every held message of one recipient: { key, when, from, stanza }.
function held_messages(user) -- luacheck: ignore 131
	local out = {};
	for key, item, when, with in held_store:find(user, {}) or function () end do
		out[#out + 1] = { key = key, when = when, from = with, stanza = item };
	end
	return out;
end

function list_held(print, user) -- luacheck: ignore 131
	local n = 0;
	for _, u in ipairs(held_users(user)) do
		for _, h in ipairs(held_messages(u)) do
			local why = h.stanza:get_child("held", NS);
			local reasons = {};
			for r in (why and why:childtags("reason") or function () end) do
				reasons[#reasons + 1] = r:get_text();
			end
			print(("%s  %s  to %s@%s  from %s  score %s  %s"):format(h.key,
				os.date("!%Y-%m-%dT%H:%M:%SZ", h.when), u, module.host, h.from or "?",
				why and why.attr.score or "?", why and why.attr.labels or ""));
			print("    " .. (h.stanza:get_child_text("body") or ""):gsub("%s+", " "):sub(1, 200));
			if #reasons > 0 then print("    because: " .. table.concat(reasons, "; ")); end
			n = n + 1;
		end
	end
	return n;
end

local function take_held(user, key)
	for _, h in ipairs(held_messages(user)) do
		if h.key == key then
			local ok, err = held_store:delete(user, { key = key });
			if not ok then return nil, "cannot delete: " .. tostring(err); end
			return h;
		end
	end
	return nil, "no held message " .. tostring(key) .. " for " .. tostring(user) .. "@" .. module.host;
end

-- Deliver a held message to its recipient, stamped with its original time
-- (XEP-0203), and tell the daemon it was ham (a not_spam report by the
-- recipient, who received it, about the daemon's message id).
function release_held(user, key) -- luacheck: ignore 131
	local h, err = take_held(user, key);
	if not h then return nil, err; end
	local msg = h.stanza;
	local why = msg:get_child("held", NS);
	strip_marks(msg);
	msg:tag("delay", { xmlns = "urn:xmpp:delay", from = module.host,
		stamp = os.date("!%Y-%m-%dT%H:%M:%SZ", h.when) }):text("Held by spimguard, released by the operator"):up();
	msg:tag("released", { xmlns = NS, secret = release_secret }):up();
	module:send(msg);
	local to = user .. "@" .. module.host;
	if why and why.attr.id then
		request("POST", "/v1/report", json.encode({ reporter = to, id = why.attr.id,
			account = h.from and jid_util.bare(h.from), label = "not_spam",
			comment = "released by the operator" })):next(function (resp)
			module:log("info", "spimguard: release of %s reported as not spam: HTTP %s", key, tostring(resp.code));
		end, function (e)
			module:log("warn", "spimguard: release of %s not reported: %s", key, tostring(e));
		end);
	end
	module:log("info", "spimguard: held message %s from %s to %s released", key, tostring(h.from), to);
	return true;
end

function discard_held(user, key) -- luacheck: ignore 131
	local h, err = take_held(user, key);
	if not h then return nil, err; end
	module:log("info", "spimguard: held message %s from %s to %s@%s discarded", key,
		tostring(h.from), user, module.host);
	return true;
end

do
	local get_module = require "core.modulemanager".get_module;
	local console_env = module:shared("/*/admin_shell/env");
	local function mod_for(host)
		local m = host and get_module(host, "spimguard");
		if not m then return nil, "mod_spimguard is not loaded on host " .. tostring(host); end
		return m;
	end
	-- luacheck: ignore 212/self
	console_env.spimguard = {};
	function console_env.spimguard:held(host, user)
		local m, err = mod_for(host);
		if not m then return nil, err; end
		local n = m.list_held(self.session.print, user);
		return true, n .. " held message" .. (n == 1 and "" or "s");
	end
	function console_env.spimguard:release(host, user, key)
		local m, err = mod_for(host);
		if not m then return nil, err; end
		if not user or not key then return nil, "usage: spimguard:release(host, user, id)"; end
		local ok, e = m.release_held(user, key);
		if not ok then return nil, e; end
		return true, "released " .. key .. " to " .. user .. "@" .. host;
	end
	function console_env.spimguard:discard(host, user, key)
		local m, err = mod_for(host);
		if not m then return nil, err; end
		if not user or not key then return nil, "usage: spimguard:discard(host, user, id)"; end
		local ok, e = m.discard_held(user, key);
		if not ok then return nil, e; end
		return true, "discarded " .. key;
	end
end

module:hook("message/bare", check_message, 50);
module:hook("message/full", check_message, 50);
module:hook("pre-message/bare", check_outgoing, 50);
module:hook("pre-message/full", check_outgoing, 50);
module:hook("pre-message/host", check_outgoing, 50);
module:hook("iq-set/self/" .. NS_BLOCK .. ":block", on_block, 10);

module:log("info", "spimguard: checking messages with %s (timeout %s s, fail-%s)",
	base_url, tostring(timeout), fail_open and "open" or "closed");
