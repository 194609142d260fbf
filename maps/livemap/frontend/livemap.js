// OneGrid live map: a Streamlit component (protocol v1) around one Leaflet map that lives as long
// as its frame. Each rerun of the page sends the whole spec; only what changed is redrawn:
// - the grid geometry is parsed and added once per shapes.id, then only restyled;
// - the heat keeps its layer and gets new points; legends, circles and points are swapped.
// Every text from the data is put into the page with textContent, never as HTML.
"use strict";

(function () {
  const SELECTED = { color: "#c0392b", weight: 3.5 };
  const S = {
    map: null,
    loading: null,
    queued: null,
    height: 0,
    tiles: null,
    tilesUrl: null,
    shapesId: null,
    fitKey: null,
    fitBounds: null,
    userMoved: false,
    grids: null,
    gridLayers: [],
    gridStyle: null,
    fills: null,
    selected: -1,
    tips: null,
    built: {},
    legend: null,
    pointsLegend: null,
    heat: null,
    circles: null,
    points: null,
    control: null,
    controlKey: null,
    hidden: new Set(),
    drawing: false,
    names: {},
    reportView: false,
    reportClicks: true,
    lastClick: null,
    sent: null,
    viewTimer: null,
  };

  function post(type, data) {
    window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
  }

  function showError(message) {
    const box = document.getElementById("map-error");
    box.textContent = message;
    box.hidden = false;
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      const s = document.createElement("script");
      s.src = src;
      s.async = false;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }

  async function loadAssets(assets) {
    for (const href of assets.css) {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = href;
      document.head.appendChild(link);
    }
    for (const src of assets.js) {
      await loadScript(src); // in order: the heat plugin extends Leaflet
    }
  }

  // -- what goes back to the page ---------------------------------------------------------------

  function viewOf() {
    const b = S.map.getBounds();
    return {
      bounds: {
        _southWest: { lat: b.getSouth(), lng: b.getWest() },
        _northEast: { lat: b.getNorth(), lng: b.getEast() },
      },
      zoom: S.map.getZoom(),
    };
  }

  function sendValue() {
    const value = {};
    if (S.lastClick) value.last_object_clicked = S.lastClick;
    if (S.reportView) Object.assign(value, viewOf());
    const text = JSON.stringify(value);
    if (text === S.sent || text === "{}") return; // every value sent reruns the page
    S.sent = text;
    post("streamlit:setComponentValue", { value: value, dataType: "json" });
  }

  // -- texts ------------------------------------------------------------------------------------

  function table(labels, values) {
    const t = document.createElement("table");
    t.className = "og-tip";
    for (let i = 0; i < labels.length; i++) {
      const tr = t.insertRow();
      const th = document.createElement("th");
      th.textContent = labels[i];
      tr.appendChild(th);
      tr.insertCell().textContent = values[i];
    }
    return t;
  }

  function gridTip(i) {
    const tips = S.tips;
    if (!tips) return "";
    return table(tips.labels, tips.columns.map(function (col) { return col[i]; }));
  }

  // -- layers -----------------------------------------------------------------------------------

  function createMap(spec) {
    S.map = L.map("map", { preferCanvas: true, maxZoom: 19, zoomSnap: 0.5 });
    window.map = S.map; // the browser tests look at the drawn layers through it
    L.control.scale({ imperial: false }).addTo(S.map);
    S.map.on("click", function (e) {
      if (!S.reportClicks) return;
      S.lastClick = { lat: e.latlng.lat, lng: e.latlng.lng };
      sendValue();
    });
    S.map.on("moveend", function () {
      if (!S.reportView) return;
      clearTimeout(S.viewTimer);
      S.viewTimer = setTimeout(sendValue, 250);
    });
    // Streamlit sizes the frame after the first draw: until the user moves the map, a resize
    // fits the grids again (else the district sits off-centre in a frame that grew).
    const container = S.map.getContainer();
    for (const name of ["mousedown", "wheel", "touchstart", "keydown"]) {
      container.addEventListener(name, function () { S.userMoved = true; }, { passive: true });
    }
    S.map.on("resize", function () {
      if (!S.userMoved && S.fitBounds) S.map.fitBounds(S.fitBounds, { animate: false });
    });
    // Leaflet reports a layer removed by this script (a new level, heat switched off on the
    // page) like one the user unticked; only the user's own ticks are remembered.
    S.map.on("overlayadd overlayremove", function (e) {
      const key = S.names[e.name];
      if (!key || S.drawing) return;
      if (e.type === "overlayadd") S.hidden.delete(key);
      else S.hidden.add(key);
    });
  }

  function setBasemap(basemap) {
    const url = basemap ? basemap.url : null;
    if (url === S.tilesUrl) return;
    if (S.tiles) S.tiles.remove();
    S.tiles = null;
    S.tilesUrl = url;
    document.getElementById("map-notice").hidden = true;
    if (url) {
      S.tiles = L.tileLayer(url, { maxZoom: 19, attribution: basemap.attribution || "" });
      // A basemap that cannot load (offline, blocked, a wrong intranet address) says so once
      // instead of leaving the map grey without a word.
      S.tiles.on("tileerror", function () {
        const box = document.getElementById("map-notice");
        if (!basemap.failed || !box.hidden) return;
        box.textContent = basemap.failed;
        box.hidden = false;
      });
      S.tiles.addTo(S.map);
      S.tiles.bringToBack();
    }
  }

  function show(key, layer) {
    if (layer && !S.hidden.has(key) && !S.map.hasLayer(layer)) layer.addTo(S.map);
  }

  function setShapes(shapes, fitKey) {
    if (shapes.id !== S.shapesId) {
      if (S.grids) S.grids.remove();
      S.gridLayers = [];
      S.grids = L.geoJSON(JSON.parse(shapes.json), {
        onEachFeature: function (feature, layer) {
          const i = S.gridLayers.length;
          S.gridLayers.push(layer);
          layer.bindTooltip(function () { return gridTip(i); }, { sticky: true });
          layer.on("mouseover", function () { layer.setStyle({ weight: 3, color: "#222222" }); });
          layer.on("mouseout", function () { layer.setStyle(styleOf(i)); });
        },
      });
      if (S.gridLayers.length !== shapes.n) {
        showError("grid geometry incomplete: " + S.gridLayers.length + " of " + shapes.n);
      }
      S.shapesId = shapes.id;
      S.fills = null;
      S.gridStyle = null;
      S.selected = -1;
      show("grids", S.grids);
    }
    if (fitKey !== S.fitKey) {
      const b = shapes.bounds;
      S.fitBounds = [[b[1], b[0]], [b[3], b[2]]];
      S.userMoved = false;
      S.map.fitBounds(S.fitBounds, { animate: false });
      S.fitKey = fitKey;
    }
  }

  function styleOf(i) {
    const style = Object.assign({}, S.gridStyle);
    if (S.fills) style.fillColor = S.fills[i];
    if (i === S.selected) Object.assign(style, SELECTED);
    return style;
  }

  function styleGrids(grids) {
    S.tips = grids.tips;
    const selected = grids.selected === null || grids.selected === undefined ? -1 : grids.selected;
    const same = selected === S.selected &&
      JSON.stringify(grids.style) === JSON.stringify(S.gridStyle) &&
      JSON.stringify(grids.fills) === JSON.stringify(S.fills);
    if (same) return;
    if (grids.fills && grids.fills.length !== S.gridLayers.length) {
      showError("grid colours do not match the grids: " + grids.fills.length + " of " + S.gridLayers.length);
      return;
    }
    S.gridStyle = grids.style;
    S.fills = grids.fills;
    S.selected = selected;
    for (let i = 0; i < S.gridLayers.length; i++) S.gridLayers[i].setStyle(styleOf(i));
    if (selected >= 0 && selected < S.gridLayers.length) S.gridLayers[selected].bringToFront();
  }

  // Legend, count circles and viewport points are rebuilt whole, and only when their data changed.
  function swap(name, data, build) {
    const key = JSON.stringify(data);
    if (key === S.built[name]) return;
    S.built[name] = key;
    if (S[name]) S[name].remove();
    S[name] = data ? build(data) : null;
  }

  function buildLegend(legend) {
    const control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      const div = L.DomUtil.create("div", "og-legend");
      const title = L.DomUtil.create("div", "og-title", div);
      title.textContent = legend.title;
      for (const row of legend.rows) {
        const line = L.DomUtil.create("div", "", div);
        const swatch = L.DomUtil.create("span", "og-swatch", line);
        swatch.style.background = row[0];
        line.appendChild(document.createTextNode(row[1]));
      }
      return div;
    };
    return control.addTo(S.map);
  }

  function setHeat(heat) {
    if (!heat) {
      if (S.heat) S.heat.remove();
      S.heat = null;
      return;
    }
    const pts = new Array(heat.lat.length);
    for (let i = 0; i < pts.length; i++) pts[i] = [heat.lat[i], heat.lon[i], heat.w[i]];
    const options = { radius: heat.radius, blur: heat.blur, minOpacity: 0.3, maxZoom: 15 };
    if (!S.heat) {
      S.heat = L.heatLayer(pts, options);
    } else {
      S.heat.setLatLngs(pts);
      S.heat.setOptions(options); // both redraw on the next frame: one redraw
    }
    show("heat", S.heat);
  }

  function markers(data, tipOf, radiusOf, colorOf) {
    const group = L.layerGroup();
    for (let i = 0; i < data.lat.length; i++) {
      const color = colorOf(i);
      L.circleMarker([data.lat[i], data.lon[i]], {
        radius: radiusOf(i), color: color, fillColor: color, weight: 1, fillOpacity: 0.6,
      }).bindTooltip(function () { return tipOf(i); }).addTo(group);
    }
    return group;
  }

  function buildCircles(circles) {
    return markers(
      circles,
      function (i) { return table([circles.tips[i][0]], [circles.tips[i][1]]); },
      function (i) { return circles.radius[i]; },
      function () { return circles.color; },
    );
  }

  function buildPoints(points) {
    return markers(
      points,
      function (i) { return table(points.labels, points.columns.map(function (c) { return c[i]; })); },
      function () { return 4; },
      function (i) { return points.color[i]; },
    );
  }

  function setControl(names) {
    const overlays = {};
    S.names = {};
    const entries = [["grids", S.grids], ["heat", S.heat], ["components", S.circles], ["points", S.points]];
    for (const [key, layer] of entries) {
      if (!layer) continue;
      const name = names[key] || key;
      overlays[name] = layer;
      S.names[name] = key;
    }
    const controlKey = JSON.stringify(Object.keys(overlays)) + [S.grids, S.heat, S.circles, S.points]
      .map(function (l) { return l ? L.stamp(l) : 0; }).join(",");
    if (controlKey === S.controlKey) return;
    S.controlKey = controlKey;
    if (S.control) S.control.remove();
    S.control = L.control.layers(null, overlays, { collapsed: true }).addTo(S.map);
  }

  function draw(spec) {
    document.getElementById("map-error").hidden = true;
    if (spec.height !== S.height) {
      S.height = spec.height;
      document.getElementById("map").style.height = spec.height + "px";
      post("streamlit:setFrameHeight", { height: spec.height });
      if (S.map) S.map.invalidateSize();
    }
    if (!S.map) createMap(spec);
    S.reportView = !!spec.report_view;
    S.reportClicks = spec.report_clicks !== false;
    S.drawing = true;
    try {
      setBasemap(spec.basemap);
      setShapes(spec.shapes, spec.fit_key);
      styleGrids(spec.grids);
      swap("legend", spec.legend, buildLegend);
      setHeat(spec.heat);
      swap("circles", spec.circles, buildCircles);
      show("components", S.circles);
      swap("points", spec.points, buildPoints);
      show("points", S.points);
      swap("pointsLegend", spec.points_legend || null, buildLegend); // what the dots' colours mean
      setControl(spec.layer_names);
    } finally {
      S.drawing = false;
    }
    if (S.reportView) sendValue(); // the page needs the view to draw components of it
  }

  function onRender(spec) {
    S.queued = spec;
    if (!S.loading) {
      S.loading = loadAssets(spec.assets);
    }
    S.loading.then(function () {
      if (!S.queued) return;
      const next = S.queued;
      S.queued = null;
      try {
        draw(next);
      } catch (err) {
        showError(String(err));
        throw err;
      }
    }, function (err) { showError(String(err)); });
  }

  window.addEventListener("message", function (event) {
    if (event.data && event.data.type === "streamlit:render") onRender(event.data.args.spec);
  });
  post("streamlit:componentReady", { apiVersion: 1 });
})();
