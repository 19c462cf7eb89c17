#!/usr/bin/env bash
# Makes the French spoken prompts of the wait (the position in the queue and the estimated wait)
# with the espeak-ng speech synthesiser, one WAV file per prompt:
#   scripts/make-prompts.sh [DIR]     (default: prompts/fr)
# then point `[waiting] prompts_dir` at DIR. A site may record its own voice instead: the same
# file names, WAV (PCM, any rate, mono or stereo).
set -euo pipefail

dir="${1:-prompts/fr}"
voice="${RELAIS_PROMPT_VOICE:-fr}"
if ! command -v espeak-ng >/dev/null 2>&1; then
    echo "make-prompts: espeak-ng is missing (apt install espeak-ng)" >&2
    exit 1
fi
mkdir -p "$dir"

say() {
    # A calm pace (-s words per minute) and a little lower pitch suit a public-service voice.
    espeak-ng -v "$voice" -s 150 -p 40 -w "$dir/$1.wav" "$2"
}

say vous-etes "Vous êtes la"
say personne-en-attente "personne en attente."
say plus-de-20-personnes "Plus de vingt personnes attendent avant vous."
say aucun-conseiller "Aucun conseiller n'est disponible pour le moment. Votre place est gardée."
say bientot "Un conseiller va vous répondre très bientôt."
say temps-estime "Temps d'attente estimé :"
say plus-de-30-minutes "plus de trente minutes."

ordinals=(première deuxième troisième quatrième cinquième sixième septième huitième neuvième
    dixième onzième douzième treizième quatorzième quinzième seizième dix-septième dix-huitième
    dix-neuvième vingtième)
for i in "${!ordinals[@]}"; do
    say "position-$((i + 1))" "${ordinals[$i]}"
done

say minutes-1 "une minute."
for m in $(seq 2 30); do
    say "minutes-$m" "$m minutes."
done

echo "make-prompts: $(ls "$dir"/*.wav | wc -l) prompts in $dir"
