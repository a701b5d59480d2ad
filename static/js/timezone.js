// Offers to save the browser's time zone when it differs from the one on the account.
// The offer is a plain POST form in base.html (CSRF token included); this script only
// fills in the zone and shows it. "Not now" is remembered per zone in localStorage.
(function () {
  "use strict";
  var box = document.getElementById("tz-offer");
  if (!box || !window.Intl) return;
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  var saved = box.getAttribute("data-saved-zone");
  var key = "firstbreak-tz-dismissed";
  if (!zone || zone === saved) return;
  try {
    if (window.localStorage.getItem(key) === zone) return;
  } catch (e) { /* storage off: offer every time */ }
  box.querySelector("input[name=timezone]").value = zone;
  box.querySelector("[data-tz-browser]").textContent = zone.replace(/_/g, " ");
  box.hidden = false;
  box.querySelector("[data-tz-dismiss]").addEventListener("click", function () {
    try { window.localStorage.setItem(key, zone); } catch (e) { /* ignore */ }
    box.hidden = true;
  });
})();
