// Package chunker splits extracted document text into chunks for embedding.
// It is pure: no I/O, no global state; the same input gives the same chunks.
//
// Chunks are cut at token boundaries of the embedding model's tokenizer
// (cl100k_base for OpenAI's text-embedding-3 models), preferring the
// strongest structural boundary that fits: a section (heading) first, then
// a paragraph, a line, a sentence, a word, and only then a bare token.
// The text is tokenized once; a chunk's final count is checked once more on
// its own text, so no chunk exceeds MaxTokens. Counts are exact: BPE gives
// the tokens of github.com/tiktoken-go/tokenizer's cl100k_base encoding of
// the whole text, with a pre-tokenizer and merge of its own (tokenizer.go).
package chunker
