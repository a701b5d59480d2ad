// Draws the ```mermaid blocks of office-hours recaps (served as <pre class="mermaid">) with the vendored mermaid.
// "strict" keeps recap authors from running script through a diagram: labels are sanitized, click directives ignored.
mermaid.initialize({
  startOnLoad: false,
  securityLevel: "strict",
  theme: "neutral",
  fontFamily: "inherit",
  // Tighter than the defaults, so a left-to-right chart fits the text column without shrinking its labels much.
  flowchart: { nodeSpacing: 30, rankSpacing: 35, padding: 10, wrappingWidth: 260 },
});
// Only the recap itself: questions and notes are Markdown too, but diagrams there are not drawn.
mermaid.run({ querySelector: ".recap pre.mermaid", suppressErrors: true });
