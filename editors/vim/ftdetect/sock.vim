au BufRead,BufNewFile *.sock setfiletype sock
