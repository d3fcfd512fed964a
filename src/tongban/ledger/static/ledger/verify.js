// Recomputes an entry's inclusion proof in the browser (RFC 9162, section 2.1.3.2), so a
// reader need not trust the server's own tick. SHA-256 only: browsers have no SM3.
(function () {
  "use strict";
  const section = document.querySelector("[data-ledger-proof]");
  if (!section) return;
  const button = section.querySelector("[data-ledger-verify]");
  const output = section.querySelector("[data-ledger-verify-result]");
  const data = section.dataset;

  function fromBase64(text) {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  }
  function toBase64(bytes) {
    return btoa(String.fromCharCode(...bytes));
  }
  async function nodeHash(left, right) {
    const buffer = new Uint8Array(1 + left.length + right.length);
    buffer[0] = 1;
    buffer.set(left, 1);
    buffer.set(right, 1 + left.length);
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  }
  async function recompute() {
    const proof = JSON.parse(data.proof).map(fromBase64);
    let fn = Number(data.index);
    let sn = Number(data.size) - 1;
    let r = fromBase64(data.leaf);
    for (const p of proof) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? toBase64(r) : null;
  }

  if (data.hash !== "sha256" || !window.crypto || !crypto.subtle) {
    button.disabled = true;
    output.textContent = data.unavailable;
    return;
  }
  button.addEventListener("click", async () => {
    const root = await recompute();
    const ok = root !== null && root === data.root;
    output.textContent = (ok ? "✔ " + data.ok : "✘ " + data.bad) + (root ? " " + root : "");
    output.className = "browser-verdict verdict " + (ok ? "ok" : "bad");
  });
  // The button is served disabled and enabled only now: a click before this script ran did nothing.
  button.disabled = false;
})();
