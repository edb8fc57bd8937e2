# words.sh — the demo app's logic: count words, find the longest one.

count_words() {
	wc -w | tr -d ' '
}

longest_word() {
	tr -s ' \t' '\n\n' | awk 'length > length(best) { best = $0 } END { print best }'
}
