// Filter the sandbox's run history by model; survives the list being rebuilt after a run.

const select = document.getElementById("sb-history-model");
const list = document.getElementById("sb-history");

function apply() {
  const wanted = select.value;
  for (const item of list.children) item.hidden = Boolean(wanted) && item.dataset.model !== wanted;
}

if (select && list) {
  select.addEventListener("change", apply);
  new MutationObserver(apply).observe(list, { childList: true });
  apply();
}
