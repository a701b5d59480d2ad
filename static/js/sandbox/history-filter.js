// Filter the sandbox's run history by model; survives the list being rebuilt after a run.

import { $ } from "../lib/dom.js";

export function setupHistoryFilter() {
  const select = $("sb-history-model");
  const list = $("sb-history");
  if (!select || !list) return;
  const apply = () => {
    const wanted = select.value;
    for (const item of list.children) item.hidden = Boolean(wanted) && item.dataset.model !== wanted;
  };
  select.addEventListener("change", apply);
  new MutationObserver(apply).observe(list, { childList: true });
  apply();
}
