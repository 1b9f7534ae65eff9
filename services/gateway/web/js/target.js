// Reads an alert's target from its CAP 1.2 document (public for published alerts), so a
// resident's alert page can show where it was sent.

const CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2";

export function targetFromCap(xmlText) {
  const doc = new DOMParser().parseFromString(xmlText, "application/xml");
  const target = { wardCodes: [], boroughCodes: [], circles: [], polygons: [] };
  for (const area of doc.getElementsByTagNameNS(CAP_NS, "area")) {
    for (const geocode of area.getElementsByTagNameNS(CAP_NS, "geocode")) {
      const name = geocode.getElementsByTagNameNS(CAP_NS, "valueName")[0]?.textContent;
      const value = geocode.getElementsByTagNameNS(CAP_NS, "value")[0]?.textContent;
      if (name === "ONS_WARD") target.wardCodes.push(value);
      if (name === "ONS_BOROUGH") target.boroughCodes.push(value);
    }
    for (const circle of area.getElementsByTagNameNS(CAP_NS, "circle")) {
      const [centre, radiusKm] = circle.textContent.trim().split(/\s+/);
      const [lat, lon] = centre.split(",").map(Number);
      target.circles.push({ lat, lon, radiusM: Number(radiusKm) * 1000 });
    }
    for (const polygon of area.getElementsByTagNameNS(CAP_NS, "polygon")) {
      const ring = polygon.textContent
        .trim()
        .split(/\s+/)
        .map((pair) => pair.split(",").map(Number))
        .map(([lat, lon]) => [lon, lat]);
      target.polygons.push([ring]);
    }
  }
  return target;
}
