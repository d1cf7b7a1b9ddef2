// Court map: Leaflet (served locally), the England & Wales outline instead of tiles (no network).
(function () {
  function start() {
    var el = document.getElementById("map");
    var dataEl = document.getElementById("map-data");
    if (!el || !dataEl || !window.L) return;
    var points = JSON.parse(dataEl.textContent || "[]");
    var map = L.map(el, {zoomSnap: 0.25, attributionControl: false}).setView([52.6, -1.8], 6.25);
    fetch("/static/analyse/gb_outline.geojson").then(function (r) { return r.json(); }).then(function (gj) {
      L.geoJSON(gj, {style: {color: "#7a8793", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1}}).addTo(map);
      layer.bringToFront();
    });
    var layer = L.featureGroup().addTo(map);
    var max = points.reduce(function (m, p) { return Math.max(m, p.count || 0); }, 1);
    points.forEach(function (p) {
      var r = 4 + 14 * Math.sqrt((p.count || 0) / max);
      var m = L.circleMarker([p.lat, p.lon], {radius: r, color: "#0b5394", weight: 1, fillOpacity: 0.45, className: "court-marker"});
      var a = document.createElement("a");
      a.href = "/courts/" + p.id;
      a.textContent = p.name + " (" + p.count + ")";
      m.bindPopup(a);
      m.addTo(layer);
    });
    el.setAttribute("data-markers", String(points.length));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
