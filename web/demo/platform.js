// Which cardbridge download fits the visitor's computer, as the guide's
// page offers "Download for Mac with Intel chip / with Apple chip".
//
// Browsers say little: Chromium-based ones tell the platform and, when
// asked, the CPU architecture (navigator.userAgentData); the others only
// have the user agent string, in which every Mac claims "Intel Mac OS X"
// and Linux distributions rarely appear. When it cannot be told, more than
// one download is recommended, and every other one is offered as well.

/** Where the release files are served (stable names, no version). */
export const RELEASE_URL = "https://github.com/cardbridge/cardbridge/releases/latest/download/";

/** The downloads, in the order they are listed. */
export const DOWNLOADS = [
  { id: "windows", file: "cardbridge-windows-x64.msi" },
  { id: "mac-intel", file: "cardbridge-macos-x64.pkg" },
  { id: "mac-apple", file: "cardbridge-macos-arm64.pkg" },
  { id: "debian", file: "cardbridge-linux-amd64.deb" },
  { id: "fedora", file: "cardbridge-linux-x86_64.rpm" },
];

export function downloadURL(d) {
  return RELEASE_URL + d.file;
}

/**
 * The ids of the downloads that fit the browser's system, best first;
 * empty when it is not a computer cardbridge runs on (a phone) or cannot
 * be told.
 * @param {{userAgent?: string, userAgentData?: {platform?: string, getHighEntropyValues?: Function}}} nav
 * @returns {Promise<string[]>}
 */
export async function detectDownloads(nav) {
  const ua = nav?.userAgent ?? "";
  const uad = nav?.userAgentData;
  const platform = (uad?.platform ?? "").toLowerCase();
  if (/android|iphone|ipad|ipod/i.test(ua) || platform === "android" || platform === "ios" || uad?.mobile) return [];
  if (platform === "windows" || (!platform && /windows/i.test(ua))) return ["windows"];
  if (platform === "macos" || (!platform && /macintosh|mac os x/i.test(ua))) {
    const arch = await architecture(uad);
    if (arch === "arm") return ["mac-apple"];
    if (arch === "x86") return ["mac-intel"];
    return ["mac-apple", "mac-intel"]; // Apple chips are what Macs sell with now
  }
  if (platform === "linux" || platform === "chrome os" || (!platform && /linux|x11/i.test(ua))) {
    if (/fedora|red hat|centos|rocky|alma/i.test(ua)) return ["fedora"];
    return ["debian", "fedora"];
  }
  return [];
}

async function architecture(uad) {
  if (typeof uad?.getHighEntropyValues !== "function") return "";
  try {
    const v = await uad.getHighEntropyValues(["architecture"]);
    return v?.architecture ?? "";
  } catch {
    return "";
  }
}
