// Draws the Mermaid diagrams of a page with the copy of Mermaid that the site serves itself
// (assets/mermaid/), never one from a CDN: the site must work offline.
//
// The diagrams use the class "mermaid-diagram", not "mermaid", so that the theme's own Mermaid
// loader (which fetches Mermaid from a CDN and draws into a closed shadow root) leaves them alone.
// They are drawn at their natural size, labels at 16 px, and a wide one scrolls sideways
// instead of being shrunk until its labels cannot be read.
(function () {
  "use strict";
  var blocks = document.querySelectorAll("div.mermaid-diagram");
  if (blocks.length === 0 || typeof mermaid === "undefined") {
    return;
  }
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
      // A diagram wider than the page opens on its middle, where the main path runs.
      blocks.forEach(function (block) {
        block.scrollLeft = (block.scrollWidth - block.clientWidth) / 2;
      });
      document.documentElement.dataset.diagrams = "drawn";
    },
    function (error) {
      document.documentElement.dataset.diagrams = "failed";
      console.error("stechnique: a diagram could not be drawn", error);
    }
  );
})();
