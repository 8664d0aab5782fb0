/* kzprobe HTML report: a run's details on hover or click, and each chart saved as SVG or PNG.
   Everything it needs is in the page (no request leaves it); strings from reports only ever
   enter the page through textContent. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("kz-data").textContent);
  var strings = data.strings;
  var panel = document.getElementById("kz-detail");
  var pinned = null;

  function str(index) { return index >= 0 ? strings[index] : ""; }
  function when(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + "Z";
  }
  function add(parent, tag, content, className) {
    var element = document.createElement(tag);
    element.textContent = content;
    if (className) { element.className = className; }
    parent.appendChild(element);
    return element;
  }

  /* The row and run under the pointer, from its position in the chart's own coordinates. */
  function locate(svg, event) {
    var chart = data.charts[svg.getAttribute("data-chart")];
    if (!chart) { return null; }
    var box = svg.getBoundingClientRect();
    var x = (event.clientX - box.left) * svg.viewBox.baseVal.width / box.width;
    var y = (event.clientY - box.top) * svg.viewBox.baseVal.height / box.height;
    var column = Math.floor((x - data.x0) / data.w);
    if (column < 0 || column >= data.cols) { return null; }
    for (var i = 0; i < chart.rows.length; i++) {
      var row = chart.rows[i];
      if (y < row.y || y >= row.y + data.rh) { continue; }
      var source = row.ref ? data.charts[row.ref[0]].rows[row.ref[1]] : row;
      for (var j = 0; j < source.r.length; j++) {
        var run = source.r[j];
        if (column >= run[0] && column < run[0] + run[1]) { return {row: source, run: run}; }
      }
      return null;
    }
    return null;
  }

  function show(found) {
    var row = found.row, run = found.run, target = row.k === "t" ? data.targets[row.t] : null;
    var scans = 0, k;
    for (k = 1; k < run[2].length; k += 2) { scans += run[2][k]; }
    panel.textContent = "";
    if (target) {
      var name = str(target[0]) + (target[1] >= 0 ? " \u2014 " + str(target[1]) : "");
      add(panel, "h3", name + (target[2] >= 0 ? " (" + str(target[2]) + ")" : ""));
      if (target[3] >= 0) { add(panel, "p", str(target[3]), "url"); }
      add(panel, "p", "Vantage " + str(row.v));
    } else {
      add(panel, "h3", "Connectivity of " + str(row.v));
    }
    add(panel, "p", (scans === 1 ? "1 scan at " + when(run[4])
      : scans + " scans from " + when(run[4]) + " to " + when(run[5]))
      + (run[3] ? " (" + run[3] + " incomplete)" : ""));
    var list = add(panel, "ul", "");
    for (k = 0; k < run[2].length; k += 2) {
      add(list, "li", str(run[2][k]) + ": " + run[2][k + 1] + (scans > 1 ? " of " + scans : ""));
    }
    if (run[6] >= 0) { add(panel, "p", "Evidence: " + str(run[6])); }
    if (run[7] >= 0) { add(panel, "p", "Explanation (scan of " + when(run[8]) + "): " + str(run[7])); }
    add(panel, "p", pinned ? "Click the chart again or press Escape to close." : "Click to keep this open.", "hint");
    panel.hidden = false;
  }

  function hide() { panel.hidden = true; }

  Array.prototype.forEach.call(document.querySelectorAll("svg[data-chart]"), function (svg) {
    svg.addEventListener("mousemove", function (event) {
      if (pinned) { return; }
      var found = locate(svg, event);
      if (found) { show(found); } else { hide(); }
    });
    svg.addEventListener("mouseleave", function () { if (!pinned) { hide(); } });
    svg.addEventListener("click", function (event) {
      var found = locate(svg, event);
      pinned = pinned || !found ? null : found;
      if (found) { show(found); } else { hide(); }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { pinned = null; hide(); }
  });

  /* Downloads: the chart with the page's patterns and styles inside, so it stands alone. */
  var css = document.getElementById("kz-chart-css").textContent;
  var defs = document.getElementById("kz-defs").getElementsByTagName("defs")[0];

  function standalone(svg) {
    var copy = svg.cloneNode(true);
    var style = document.createElementNS(svg.namespaceURI, "style");
    style.textContent = css;
    copy.insertBefore(style, copy.firstChild);
    copy.insertBefore(defs.cloneNode(true), copy.firstChild);
    return new XMLSerializer().serializeToString(copy);
  }

  function save(blob, name) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 2000);
  }

  Array.prototype.forEach.call(document.querySelectorAll("button[data-save]"), function (button) {
    button.addEventListener("click", function () {
      var id = button.getAttribute("data-for");
      var svg = document.querySelector('svg[data-chart="' + id + '"]');
      var name = "kzprobe-" + button.getAttribute("data-name");
      var text = standalone(svg);
      var blob = new Blob([text], {type: "image/svg+xml"});
      if (button.getAttribute("data-save") === "svg") { save(blob, name + ".svg"); return; }
      var image = new Image();
      var source = URL.createObjectURL(blob);
      image.onload = function () {
        var scale = 2, canvas = document.createElement("canvas");
        canvas.width = svg.viewBox.baseVal.width * scale;
        canvas.height = svg.viewBox.baseVal.height * scale;
        var context = canvas.getContext("2d");
        context.fillStyle = "#fff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.scale(scale, scale);
        context.drawImage(image, 0, 0);
        URL.revokeObjectURL(source);
        canvas.toBlob(function (png) { save(png, name + ".png"); }, "image/png");
      };
      image.src = source;
    });
  });
}());
