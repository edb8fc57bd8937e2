/* cli/commands.c — the table of slipway's commands, in the order `slipway help` lists them. */
#include <stddef.h>

#include "cli/cli.h"

const struct command commands[] = {
	{"help", "show help for slipway or one command", "[COMMAND]",
	 "Without COMMAND, lists the commands. With one, shows its usage and options\n"
	 "(the same as 'slipway COMMAND --help').\n",
	 cmd_help},
	{"version", "show versions, linked libraries, cgroup mode and data dir", "[--json]",
	 "Options:\n"
	 "      --json            print one JSON object\n",
	 cmd_version},
	{"image import", "make a one-layer image from a root filesystem",
	 "[--compression zstd|gzip|none] TARBALL|DIR NAME[:TAG]",
	 "TARBALL may be a tar, .tar.gz or .tar.zst; it is unpacked securely and packed again\n"
	 "reproducibly (SOURCE_DATE_EPOCH clamps mtimes). Prints the manifest digest.\n"
	 "Options:\n"
	 "  -c, --compression C   layer compression: zstd (default), gzip, none\n"
	 "      --json            print {ref, digest}\n",
	 cmd_image_import},
	{"image ls", "list images", "[--json]",
	 "Columns: REPOSITORY, TAG, DIGEST (short manifest digest), SIZE (compressed), CREATED.\n"
	 "Options:\n"
	 "      --json            print a JSON array\n",
	 cmd_image_ls},
	{"image inspect", "show an image's manifest and config, or its layer dirs",
	 "[--layers] REF",
	 "REF is NAME[:TAG], NAME@sha256:..., or a manifest digest (or a 12+ digit prefix).\n"
	 "Options:\n"
	 "  -l, --layers          unpack the layers if needed and print their dirs, topmost\n"
	 "                        first (the overlay lowerdir order), one per line\n",
	 cmd_image_inspect},
	{"image tag", "give an image another name", "SRC DST", "", cmd_image_tag},
	{"image rm", "remove image tags (data stays until 'image prune')", "REF...", "",
	 cmd_image_rm},
	{"image save", "write an image as an OCI archive", "REF FILE.tar",
	 "The archive is a tar of an OCI layout; skopeo reads it as oci-archive:FILE.tar.\n",
	 cmd_image_save},
	{"image load", "load an OCI archive or a docker-save archive", "FILE.tar",
	 "Every blob digest and layer diff_id is verified and every layer unpacked before\n"
	 "anything is tagged.\n",
	 cmd_image_load},
	{"image prune", "remove unreferenced blobs and layer dirs", "[--json]",
	 "Layer dirs a live container pinned ($DATA/containers/<id>/layers) are kept.\n",
	 cmd_image_prune},
	{NULL, NULL, NULL, NULL, NULL},
};
