/*
 * llmroutectl_completion.c - `llmroutectl completion bash`: the bash
 * completion script, generated from the verb table (ctl_verbs).
 *
 * The verbs and sub-verbs are written into the script; a verb's options
 * and their fixed values ("--by model|rule|...") are read at completion
 * time from `llmroutectl VERB --help`, so neither list is kept twice.
 * Route names come from `llmroutectl show`.
 */
#include "llmroutectl.h"

#include <stdio.h>
#include <string.h>

static const char script_head[] =
	"# bash completion for llmroutectl(1), from `llmroutectl completion bash`.\n"
	"# Verbs from llmroutectl's verb table; options from `llmroutectl VERB --help`.\n"
	"_llmroutectl()\n"
	"{\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tlocal ctl=${COMP_WORDS[0]} verb=${COMP_WORDS[1]} subs='' help vals\n"
	"\tCOMPREPLY=()\n";

static const char script_tail[] =
	"\tif [ \"$COMP_CWORD\" -eq 2 ] && [ -n \"$subs\" ]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\thelp=$(\"$ctl\" \"$verb\" --help 2>&1 </dev/null)\n"
	"\tcase $verb:${COMP_WORDS[2]}:$prev in\n"
	"\troute:del:del | route:enable:enable | route:disable:disable | route:add:--before)\n"
	"\t\tCOMPREPLY=($(compgen -W \"$(\"$ctl\" show 2>/dev/null |\n"
	"\t\t\tawk '$1 ~ /^[0-9]+$/ {print $2}')\" -- \"$cur\"))\n"
	"\t\treturn 0 ;;\n"
	"\tesac\n"
	"\tif [[ $prev == --* ]]; then\n"
	"\t\tvals=$(printf '%s\\n' \"$help\" |\n"
	"\t\t\tsed -n \"s/.*$prev \\([a-z_]*|[a-z_|]*\\).*/\\1/p\" | head -n 1)\n"
	"\t\tif [ -n \"$vals\" ]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"${vals//|/ }\" -- \"$cur\"))\n"
	"\t\t\treturn 0\n"
	"\t\tfi\n"
	"\tfi\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"$(printf '%s\\n' \"$help\" |\n"
	"\t\t\tgrep -o -- '--[a-z][a-z-]*' | sort -u)\" -- \"$cur\"))\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tcompopt -o filenames 2>/dev/null\n"
	"\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"}\n"
	"complete -F _llmroutectl llmroutectl\n";

static void print_bash(void)
{
	const ctl_verb *v;

	fputs(script_head, stdout);
	fputs("\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n\t\tCOMPREPLY=($(compgen -W '--help", stdout);
	for (v = ctl_verbs; v->name; v++)
		printf(" %s", v->name);
	fputs("' -- \"$cur\"))\n\t\treturn 0\n\tfi\n\tcase $verb in\n", stdout);
	for (v = ctl_verbs; v->name; v++)
		if (*v->subs)
			printf("\t%s) subs='%s' ;;\n", v->name, v->subs);
	fputs("\tesac\n", stdout);
	fputs(script_tail, stdout);
}

int ctl_completion(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "bash") != 0) {
		fputs("usage: llmroutectl completion bash\n"
		      "  print the bash completion script for llmroutectl (install it as\n"
		      "  /usr/share/bash-completion/completions/llmroutectl, or source it)\n", stderr);
		return argc == 2 && ctl_is_help(argv[1]) ? EX_DONE : EX_USAGE;
	}
	print_bash();
	return EX_DONE;
}
