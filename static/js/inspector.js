// The model inspector page (entry module): filter the tensor table as you type.

import { $ } from "./lib/dom.js";

function setupTensorFilter() {
  const input = $("tensor-filter");
  const rows = [...document.querySelectorAll("#tensor-table tbody tr")];
  const count = $("tensor-count");
  const total = rows.length;
  input.addEventListener("input", () => {
    const query = input.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      const match = !query || row.textContent.toLowerCase().includes(query);
      row.hidden = !match;
      if (match) shown += 1;
    }
    count.textContent = query ? `${shown} of ${total} tensors` : `${total} tensors`;
  });
}

setupTensorFilter();
