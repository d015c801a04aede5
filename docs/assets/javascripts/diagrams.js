// Draws the Mermaid diagrams of a page with the copy of Mermaid that the site serves itself
// (assets/mermaid/), never one from a CDN: the site must work offline.
//
// The diagrams use the class "mermaid-diagram", not "mermaid", so that the theme's own Mermaid
// loader (which fetches Mermaid from a CDN and draws into a closed shadow root) leaves them alone.
// They are drawn at their natural size, labels at 16 px, and a wide one scrolls inside its frame
// instead of being shrunk until its labels cannot be read.
(function () {
  "use strict";
  var blocks = document.querySelectorAll("div.mermaid-diagram");
  if (blocks.length === 0) {
    return;
  }
  if (typeof mermaid === "undefined") {
    document.documentElement.dataset.diagrams = "failed";
    console.error("stechnique: assets/mermaid/mermaid.min.js did not load");
    return;
  }
  blocks.forEach(function (block) {
    // The title in the front matter repeats the page's own heading, and a long one centred
    // over a wide diagram is cut by the frame: the page draws without it.
    block.textContent = block.textContent.replace(/^\s*---\n[\s\S]*?\n---\n/, "");
  });
  mermaid.initialize({
    startOnLoad: false,
    securityLevel: "strict",
    theme: "neutral",
    fontFamily: "-apple-system, BlinkMacSystemFont, Helvetica, Arial, sans-serif",
    themeVariables: { fontSize: "16px" },
    state: { useMaxWidth: false },
  });
  mermaid.run({ nodes: blocks }).then(
    function () {
      blocks.forEach(showStart);
      document.documentElement.dataset.diagrams = "drawn";
    },
    function (error) {
      document.documentElement.dataset.diagrams = "failed";
      console.error("stechnique: a diagram could not be drawn", error);
    }
  );

  // A diagram wider than its frame opens where the procedure starts.
  function showStart(block) {
    var start = block.querySelector("g.node[id*='-state-root_start-']");
    if (!start) {
      return;
    }
    var frame = block.getBoundingClientRect();
    var node = start.getBoundingClientRect();
    block.scrollLeft = node.left + node.width / 2 - frame.left - block.clientWidth / 2;
  }
})();
