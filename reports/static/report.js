// Sortable tables: click (or Enter on) a header to sort by that column; click again to reverse.
// Numeric cells carry data-value (empty = undefined, always sorted last); others sort by their text.
(function () {
  "use strict";

  function cellKey(row, col, numeric) {
    var cell = row.cells[col];
    if (!cell) return null;
    if (numeric) {
      var v = cell.getAttribute("data-value");
      return v === null || v === "" ? null : parseFloat(v);
    }
    return cell.textContent.trim().toLowerCase();
  }

  function sortTable(table, th, col) {
    var numeric = th.getAttribute("data-sort") === "num";
    var current = th.getAttribute("aria-sort");
    // Numbers start high-to-low (a leaderboard), text starts A-Z; data-first="ascending" starts a column low-to-high (ranks).
    var first = th.getAttribute("data-first") || (numeric ? "descending" : "ascending");
    var dir = current ? (current === "descending" ? "ascending" : "descending") : first;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a, col, numeric), y = cellKey(b, col, numeric);
      if (x === null && y === null) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      var r = x < y ? -1 : x > y ? 1 : 0;
      return dir === "ascending" ? r : -r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, th, col); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, th, col); } });
    });
  });
})();
