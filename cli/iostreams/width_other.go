//go:build !unix

package iostreams

import "os"

func terminalWidth(*os.File) int { return 0 }
