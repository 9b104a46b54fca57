/* flask-helpdesk live pages over Socket.IO (namespace /helpdesk).
   Ticket page: who else is viewing or writing, a banner when something new
   arrives while you write (your draft is never replaced), a reload when you
   are not writing. Inbox: rows marked while someone works on them, counts and
   rows refreshed as tickets change. Every page: the unread notifications
   count and a polite notice when a rule notifies you. Without Socket.IO the
   pages still work. */
(function () {
  "use strict";
  var cfg = document.querySelector("meta[name=hd-realtime]");
  if (!cfg || !window.io) { return; }
  var me = Number(cfg.dataset.agent);
  var beat = Math.max(1, Number(cfg.dataset.ttl || 10) / 3) * 1000;
  var text = JSON.parse(cfg.dataset.text || "{}");
  var socket = window.io(cfg.dataset.namespace || "/helpdesk", {transports: ["websocket"]});
  window.hdSocket = socket;

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  // -------------------------------------------- notifications (every page)
  // The header's unread count follows; a polite live region says what came.
  var unreadEl = document.querySelector("[data-hd-unread]");
  var noticeEl = document.querySelector("[data-hd-notice]");
  var noticeTimer = null;
  socket.on("notification", function (n) {
    if (unreadEl) { unreadEl.textContent = String(n.unread); unreadEl.hidden = !n.unread; }
    if (!noticeEl) { return; }
    noticeEl.textContent = n.count > 1 ? fmt(text.notified_many, {count: n.count})
      : fmt(text.notified, {message: n.message});
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { noticeEl.textContent = ""; }, 15000);
  });

  // ------------------------------------------------------------ ticket page
  var ticketEl = document.querySelector("[data-hd-ticket]");
  if (ticketEl) {
    var ticketId = Number(ticketEl.dataset.hdTicket);
    var list = document.querySelector("[data-hd-presence-list]");
    var banner = document.querySelector("[data-hd-live-banner]");
    var writers = {reply: document.getElementById("hd-reply-text"), note: document.getElementById("hd-note-text")};
    var activity = "viewing", idle = null;

    var render = function (agents) {
      if (!list) { return; }
      list.textContent = "";
      agents.filter(function (a) { return a.agent_id !== me; }).forEach(function (a) {
        var li = document.createElement("li");
        li.className = "hd-presence-" + a.activity;
        li.textContent = fmt(text[a.activity] || "%(name)s", {name: a.name});
        list.appendChild(li);
      });
      list.hidden = !list.children.length;
    };
    var setActivity = function (next) {
      if (next === activity) { return; }
      activity = next;
      socket.emit("activity", {ticket_id: ticketId, activity: next});
    };
    Object.keys(writers).forEach(function (kind) {
      var box = writers[kind];
      if (!box) { return; }
      box.addEventListener("input", function () {
        setActivity(kind === "reply" ? "replying" : "noting");
        clearTimeout(idle);
        idle = setTimeout(function () { setActivity("viewing"); }, 5000);
      });
      box.addEventListener("blur", function () { setTimeout(function () { setActivity("viewing"); }, 500); });
    });
    var drafting = function () {
      return Object.keys(writers).some(function (k) { return writers[k] && writers[k].value.trim(); });
    };
    socket.on("connect", function () {
      socket.emit("view", {ticket_id: ticketId}, function (answer) {
        if (answer && answer.ok) { render(answer.agents); }
      });
    });
    socket.on("presence", function (data) { if (data.ticket_id === ticketId) { render(data.agents); } });
    // What arrived while writing, each said once ("Anna replied." stays when
    // the delivery of her reply is reported next).
    var notices = [];
    var quiet = {"message.delivered": true};
    socket.on("ticket_event", function (ev) {
      if (ev.ticket_id !== ticketId || (ev.actor_kind === "agent" && ev.actor_agent_id === me)) { return; }
      if (!drafting()) { window.location.reload(); return; }
      if (quiet[ev.type]) { return; }
      var what = ev.type === "message.received" ? text.customer_wrote
        : ev.type === "message.replied" ? fmt(text.agent_replied, {name: ev.actor_name})
        : ev.type === "note.added" ? fmt(text.agent_noted, {name: ev.actor_name})
        : fmt(text.changed, {name: ev.actor_name});
      if (notices.indexOf(what) < 0) { notices.push(what); }
      if (banner) { banner.querySelector("[data-hd-live-text]").textContent = notices.join(" "); banner.hidden = false; }
    });
    setInterval(function () { if (socket.connected) { socket.emit("heartbeat", {}); } }, beat);
    window.addEventListener("pagehide", function () { socket.emit("leave", {ticket_id: ticketId}); });
  }

  // ------------------------------------------------------------------ inbox
  var listEl = document.querySelector("[data-hd-list]");
  if (listEl) {
    var mark = function (ticketId, agents) {
      var cell = listEl.querySelector("[data-hd-presence='" + ticketId + "']");
      if (!cell) { return; }
      var others = agents.filter(function (a) { return a.agent_id !== me; });
      cell.textContent = others.map(function (a) { return fmt(text[a.activity] || "%(name)s", {name: a.name}); }).join(", ");
      cell.classList.toggle("hd-presence-busy", others.some(function (a) { return a.activity !== "viewing"; }));
    };
    var ask = function () {
      var ids = Array.prototype.map.call(listEl.querySelectorAll("tr[data-ticket-id]"), function (r) {
        return Number(r.dataset.ticketId);
      }).slice(0, 200);
      if (!ids.length) { return; }
      socket.emit("presence", {ticket_ids: ids}, function (answer) {
        if (!answer || !answer.ok) { return; }
        Object.keys(answer.presence).forEach(function (id) { mark(id, answer.presence[id]); });
      });
    };
    var refresh = null;
    socket.on("connect", ask);
    socket.on("presence", function (data) { mark(data.ticket_id, data.agents); });
    var changed = function (ids) {
      ids.forEach(function (id) {
        var row = listEl.querySelector("tr[data-ticket-id='" + id + "']");
        if (row) { row.classList.add("hd-row-changed"); }
      });
      clearTimeout(refresh);
      refresh = setTimeout(function () { if (window.hdRefreshCounts) { window.hdRefreshCounts(); } }, 500);
    };
    socket.on("ticket_event", function (ev) { changed([ev.ticket_id]); });
    // A batch (a rule run, a bulk action): the changed tickets of one inbox room.
    socket.on("tickets_changed", function (data) { changed(data.ticket_ids || []); });
  }
})();
