(function () {
  "use strict";
  // Reads only data-* attributes and text the server already escaped; writes only classes,
  // attributes and element order. Never assigns innerHTML.
  var table = document.getElementById("findings");
  var bodies = Array.prototype.slice.call(table.querySelectorAll("tbody.finding"));
  var empty = table.querySelector("tbody.empty");
  var shown = document.getElementById("shown");
  var filters = {
    status: document.getElementById("filter-status"),
    severity: document.getElementById("filter-severity"),
    service: document.getElementById("filter-service"),
    text: document.getElementById("filter-text")
  };
  var searchText = new Map();
  bodies.forEach(function (b) {
    searchText.set(b, b.querySelector("tr.row").textContent.replace(/\s+/g, " ").toLowerCase());
  });

  function applyFilters() {
    var status = filters.status.value;
    var severity = filters.severity.value;
    var service = filters.service.value;
    var words = filters.text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var visible = 0;
    bodies.forEach(function (b) {
      var text = searchText.get(b);
      var match = (!status || b.dataset.status === status) &&
        (!severity || b.dataset.severity === severity) &&
        (!service || b.dataset.service === service) &&
        words.every(function (w) { return text.indexOf(w) !== -1; });
      b.hidden = !match;
      if (match) { visible += 1; }
    });
    empty.hidden = visible > 0 || bodies.length === 0;
    shown.textContent = visible + " of " + bodies.length;
  }

  ["status", "severity", "service"].forEach(function (k) {
    filters[k].addEventListener("change", applyFilters);
  });
  filters.text.addEventListener("input", applyFilters);

  // Ranks are "most important first" ascending; severity rank is 4 for critical, so it is negated.
  var keys = {
    status: function (b) { return Number(b.dataset.statusRank); },
    severity: function (b) { return -Number(b.dataset.severityRank); },
    index: function (b) { return Number(b.dataset.index); }
  };
  function cellText(b, col) {
    return b.querySelector('[data-col="' + col + '"]').textContent.trim().toLowerCase();
  }
  var current = { key: "status", dir: 1 };

  function sortBy(key, dir) {
    var keyOf = keys[key] || function (b) { return cellText(b, key); };
    var sorted = bodies.slice().sort(function (a, b) {
      var x = keyOf(a);
      var y = keyOf(b);
      var order = x < y ? -1 : x > y ? 1 : 0;
      // Ties keep the default order (FAIL first, most severe first) whichever way the column runs.
      return order * dir || keys.index(a) - keys.index(b);
    });
    sorted.forEach(function (b) { table.insertBefore(b, empty); });
    current = { key: key, dir: dir };
    table.querySelectorAll("th[data-sort]").forEach(function (th) {
      if (th.dataset.sort === key) {
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
  }

  table.querySelectorAll("th[data-sort] button").forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.parentElement.dataset.sort;
      sortBy(key, current.key === key ? -current.dir : 1);
    });
  });

  function setOpen(b, open) {
    var button = b.querySelector("td.toggle button");
    b.querySelector("tr.more").hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    b.classList.toggle("open", open);
  }

  table.addEventListener("click", function (event) {
    var row = event.target.closest("tr.row");
    // Let people select text in a row without toggling it.
    if (!row || String(window.getSelection()).length > 0) { return; }
    var b = row.parentElement;
    setOpen(b, b.querySelector("tr.more").hidden);
  });

  var expandAll = document.getElementById("expand-all");
  expandAll.addEventListener("click", function () {
    var open = expandAll.dataset.open !== "true";
    bodies.forEach(function (b) { setOpen(b, open); });
    expandAll.dataset.open = open ? "true" : "false";
    expandAll.textContent = open ? "Collapse all" : "Expand all";
  });

  applyFilters();
})();
