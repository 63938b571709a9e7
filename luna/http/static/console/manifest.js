// The manifest checked in the browser before anything is uploaded, with the rules the
// validators use (GET /api/v1/ruleset). The service checks everything again; this only spares
// a team an upload that cannot pass.
"use strict";

function parseCsv(text) {
  // RFC 4180: quoted fields may hold commas, quotes ("") and line breaks.
  const rows = [];
  let row = [], field = "", quoted = false, i = 0;
  text = text.replace(/^\uFEFF/, "");
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"' && field === "") { quoted = true; i++; continue; }
    if (c === ",") { row.push(field); field = ""; i++; continue; }
    if (c === "\r" && text[i + 1] === "\n") { i++; continue; }
    if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; i++; continue; }
    field += c; i++;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => r.some((v) => v.trim() !== ""));
}

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot).toLowerCase();
}

// files: [{filename}], manifestText: the manifest's text or null; returns findings
// [{rule, file, row, message}] in the service's words.
function checkManifest(ruleset, files, manifestText) {
  const found = [];
  const add = (rule, file, row, message) => found.push({ rule, file, row, message });
  const names = new Set(files.map((f) => f.filename));
  const images = files.filter((f) => ruleset.image_extensions.includes(extensionOf(f.filename)));
  for (const f of files) {
    if (f.filename !== ruleset.manifest && !ruleset.image_extensions.includes(extensionOf(f.filename))) {
      add("image.unsupported_type", f.filename, null,
        `${f.filename} is not an image luna takes (${ruleset.image_extensions.join(", ")}); remove it or convert it`);
    }
  }
  if (manifestText === null) {
    add("manifest.missing", null, null, `there is no ${ruleset.manifest} at the dataset's root; add one`);
    return found;
  }
  const rows = parseCsv(manifestText);
  if (!rows.length) {
    add("manifest.unreadable", ruleset.manifest, null, "the manifest is empty; it needs a header row");
    return found;
  }
  const header = rows[0].map((h) => h.trim());
  const missing = ruleset.required_columns.filter((c) => !header.includes(c));
  for (const column of missing) {
    add("manifest.missing_column", ruleset.manifest, 1, `the manifest has no '${column}' column; add it to the header row`);
  }
  if (missing.length) return found;
  const col = (name) => header.indexOf(name);
  const pattern = new RegExp(ruleset.patient_id_pattern);
  const listed = new Set();
  rows.slice(1).forEach((cells, index) => {
    const row = index + 2;
    const value = (name) => (col(name) < 0 ? "" : (cells[col(name)] || "").trim());
    const filename = value("filename");
    if (listed.has(filename)) add("manifest.duplicate_row", ruleset.manifest, row, `${filename} is listed twice; keep one row`);
    listed.add(filename);
    if (!names.has(filename)) add("manifest.unknown_file", ruleset.manifest, row, `row names ${filename || "no file"}, which is not among the files picked`);
    const pid = value("patient_id");
    if (!pid || pid.length > ruleset.patient_id_max_chars || !pattern.test(pid)) {
      add("manifest.bad_patient_id", ruleset.manifest, row, `patient_id '${pid}' must be 1-${ruleset.patient_id_max_chars} characters of letters, digits, '.', '_' or '-'`);
    }
    const labels = value("label").split(ruleset.label_separator).map((l) => l.trim());
    const unknown = labels.filter((l) => !ruleset.labels.includes(l));
    if (unknown.length) add("manifest.bad_label", ruleset.manifest, row, `label '${unknown[0]}' is not in the vocabulary`);
    else if (labels.length > 1 && labels.includes(ruleset.no_finding)) add("manifest.bad_label", ruleset.manifest, row, `'${ruleset.no_finding}' stands alone`);
    const split = value("split");
    if (split && !ruleset.splits.includes(split)) add("manifest.bad_split", ruleset.manifest, row, `split '${split}' must be one of ${ruleset.splits.join(", ")} or empty`);
    const view = value("view");
    if (view && !ruleset.views.includes(view)) add("manifest.bad_view", ruleset.manifest, row, `view '${view}' must be one of ${ruleset.views.join(", ")} or empty`);
  });
  for (const image of images) {
    if (!listed.has(image.filename)) add("manifest.unlisted_image", image.filename, null, `${image.filename} has no row in the manifest; add one`);
  }
  return found;
}
