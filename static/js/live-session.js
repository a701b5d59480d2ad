// The live session pages (session page and live page): what htmx alone does not do.
//
// 1. The page's one poll (#live-pulse) swaps changed panels in out of band. A panel the
//    learner or lead is typing in is not replaced: the swap is skipped and the next poll
//    asks again (it sends an empty key), so the panel catches up once they leave the field.
//    Open <details> (a capsule being read) stay open across a redraw.
// 2. When a learner's turn comes (their status goes to "helping"), the tab title changes,
//    a browser notification fires if they allowed it, and a short sound plays if they chose it.
// 3. A link to a question that is not among the top ones shown loads the whole list.
//
// No inline script: the templates carry data- attributes only (Content-Security-Policy).
(function () {
  "use strict";

  var NOTIFY_KEY = "fb-turn-notify";
  var SOUND_KEY = "fb-turn-sound";
  var TURN_PREFIX = "Your turn! · ";

  // --- 1. Redraws that respect what the user is doing --------------------------------------

  var pulseStale = false;
  var openDetails = {};

  function isTyping(target) {
    var active = document.activeElement;
    if (!active || active === document.body || !target.contains(active)) return false;
    return /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.type !== "hidden" && active.type !== "checkbox";
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (isTyping(target)) {
      event.detail.shouldSwap = false;
      pulseStale = true;
      return;
    }
    var ids = [];
    target.querySelectorAll("details[open][id]").forEach(function (el) { ids.push(el.id); });
    openDetails[target.id] = ids;
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail.target;
    var id = target && target.id;
    (openDetails[id] || []).forEach(function (detailsId) {
      var el = document.getElementById(detailsId);
      if (el) el.open = true;
    });
    delete openDetails[id];
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (pulseStale) {
      var key = document.querySelector("#live-pulse input[name=v]");
      if (key) key.value = "";
      pulseStale = false;
    }
    watchTurn();
    syncTurnControls();
  });

  // --- 2. Your turn ------------------------------------------------------------------------

  var lastMode = null;
  var baseTitle = document.title;
  var audio = null;

  function stored(key) {
    try { return window.localStorage.getItem(key) === "1"; } catch (e) { return false; }
  }

  function store(key, on) {
    try { window.localStorage.setItem(key, on ? "1" : "0"); } catch (e) { /* private mode: the choice lasts the page */ }
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    // Created on the learner's click (the checkbox), so the browser lets it play later without one.
    audio = audio || new Context();
    if (audio.state === "suspended") audio.resume();
    [0, 0.22].forEach(function (offset) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime + offset);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + offset + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + offset);
      osc.stop(audio.currentTime + offset + 0.2);
    });
  }

  function yourTurn() {
    document.title = TURN_PREFIX + baseTitle;
    document.documentElement.dataset.yourTurn = "1";
    if (stored(NOTIFY_KEY) && "Notification" in window && Notification.permission === "granted") {
      try {
        new Notification("It's your turn", { body: "A lead is ready to help you now.", tag: "fb-your-turn" });
      } catch (e) { /* some browsers allow notifications from a service worker only */ }
    }
    if (stored(SOUND_KEY)) beep();
  }

  function watchTurn() {
    var status = document.getElementById("help-queue-status");
    var mode = status ? status.dataset.mode : null;
    if (mode === "helping" && lastMode !== null && lastMode !== "helping") yourTurn();
    if (mode !== "helping" && document.title.indexOf(TURN_PREFIX) === 0) {
      document.title = baseTitle;
      delete document.documentElement.dataset.yourTurn;
    }
    if (mode !== null) lastMode = mode;
  }

  function syncTurnControls() {
    var canNotify = "Notification" in window;
    document.querySelectorAll("[data-turn-alerts]").forEach(function (box) {
      var button = box.querySelector("[data-notify-turn]");
      var state = box.querySelector("[data-notify-state]");
      var sound = box.querySelector("[data-turn-sound]");
      var on = canNotify && Notification.permission === "granted" && stored(NOTIFY_KEY);
      if (button) button.hidden = !canNotify || on || Notification.permission === "denied";
      if (state) {
        state.textContent = on ? "We will notify you when it's your turn." :
          (canNotify && Notification.permission === "denied" ? "Notifications are blocked for this site." : "");
      }
      if (sound) sound.checked = stored(SOUND_KEY);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-notify-turn]");
    if (!button || !("Notification" in window)) return;
    Notification.requestPermission().then(function (permission) {
      store(NOTIFY_KEY, permission === "granted");
      syncTurnControls();
    });
  });

  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("[data-turn-sound]")) return;
    store(SOUND_KEY, event.target.checked);
    if (event.target.checked) beep();
  });

  // --- 3. Links to questions below the top ones ---------------------------------------------

  function loadLinkedQuestion() {
    var hash = window.location.hash;
    if (hash.indexOf("#question-") !== 0 || document.getElementById(hash.slice(1))) return;
    var more = document.querySelector("[data-all-questions]");
    if (more) more.click();
  }

  function start() {
    watchTurn();
    syncTurnControls();
    loadLinkedQuestion();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  document.addEventListener("htmx:load", function () {
    // The queue panel arrives after the page (a loader): its first state is the baseline, not a change.
    watchTurn();
    syncTurnControls();
  });
  window.addEventListener("hashchange", loadLinkedQuestion);
})();
